// Epilogues (graphs/epilogue.ts): a Conv / Gemm / MatMul node may carry the residual Add and the
// activation that followed it, y = act(op(x, …) + r), and an Add the activation after it. `fused_sum: 1` makes the last input r;
// `fused_activation` names the activation, whose attributes follow with a `fused_` prefix. A backend
// that fuses them itself (the CPU one: oneDNN sum and eltwise post-ops) says so; any other backend
// gets the node as three of its own kernels run in place, so every backend runs every fused graph.
#pragma once

#include <memory>
#include <string>

#include "backend.hpp"

namespace ts {

struct Epilogue {
  bool sum = false;
  /** Activation op ("" for none) and its own attributes (min, max, alpha, approximate). */
  std::string act;
  json actAttrs = json::object();
  bool any() const { return sum || !act.empty(); }
};

Epilogue epilogueOf(const OpSpec& s);
/** The op alone: fused attributes and the residual input removed. */
OpSpec withoutEpilogue(const OpSpec& s);
/** The activation as an op of its own on the node's output shape. */
OpSpec activationSpec(const OpSpec& s, const Epilogue& e);
/** A node's kernel: the backend's own when it fuses epilogues (or there is none), else a composite. */
std::shared_ptr<Kernel> compileNode(Backend& backend, const OpSpec& s);

}  // namespace ts
