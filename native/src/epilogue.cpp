// Epilogue parsing and the composite kernel for backends without post-ops (see epilogue.hpp).
#include "epilogue.hpp"

namespace ts {

namespace {

const char* const kActs[] = {"Relu", "Clip", "Sigmoid", "Tanh", "LeakyRelu", "HardSwish", "Gelu"};

/** op, then `out += r` and `out = act(out)` in place, each a kernel of the backend. */
class CompositeKernel : public Kernel {
 public:
  CompositeKernel(std::shared_ptr<Kernel> op, std::shared_ptr<Kernel> add, std::shared_ptr<Kernel> act, size_t sumIndex)
      : op_(std::move(op)), add_(std::move(add)), act_(std::move(act)), sumIndex_(sumIndex) {}
  std::shared_ptr<const void> prepare(const OpSpec& s) const override { return op_->prepare(withoutEpilogue(s)); }
  void run(const KernelArgs& a) const override {
    op_->run(a);
    if (add_) {
      const void* ins[2] = {a.out[0], a.in[sumIndex_]};
      add_->run({ins, a.out, nullptr, a.ctx});
    }
    if (act_) {
      const void* ins[1] = {a.out[0]};
      act_->run({ins, a.out, nullptr, a.ctx});
    }
  }
  std::string impl() const override { return op_->impl() + (add_ ? "+" + add_->impl() : "") + (act_ ? "+" + act_->impl() : ""); }

 private:
  std::shared_ptr<Kernel> op_, add_, act_;
  size_t sumIndex_;
};

}  // namespace

Epilogue epilogueOf(const OpSpec& s) {
  Epilogue e;
  const std::string w = s.where();
  e.sum = attrInt(s.attrs, "fused_sum", 0, w) != 0;
  e.act = attrStr(s.attrs, "fused_activation", "", w);
  if (!e.act.empty()) {
    bool known = false;
    for (const char* a : kActs) known = known || e.act == a;
    if (!known) throw Error(w + ": fused_activation '" + e.act + "' is not one of Relu, Clip, Sigmoid, Tanh, LeakyRelu, HardSwish, Gelu");
    for (const char* k : {"min", "max", "alpha", "approximate"}) {
      std::string key = std::string("fused_") + k;
      if (s.attrs.contains(key)) e.actAttrs[k] = s.attrs.at(key);
    }
  }
  if (e.sum && (s.ins.size() < 2 || s.ins.back().shape != s.outShapes.at(0))) throw Error(w + ": fused_sum needs a last input of the output's shape");
  return e;
}

OpSpec withoutEpilogue(const OpSpec& s) {
  Epilogue e = epilogueOf(s);
  if (!e.any()) return s;
  OpSpec b = s;
  for (auto it = b.attrs.begin(); it != b.attrs.end();) {
    if (it.key().rfind("fused_", 0) == 0) it = b.attrs.erase(it);
    else ++it;
  }
  if (e.sum) b.ins.pop_back();
  return b;
}

OpSpec activationSpec(const OpSpec& s, const Epilogue& e) {
  OpSpec a;
  a.id = s.id;
  a.op = e.act;
  a.attrs = e.actAttrs;
  a.ins.push_back({s.outShapes.at(0), DType::F32, nullptr});
  a.outShapes.push_back(s.outShapes.at(0));
  a.outDtypes.push_back(DType::F32);
  return a;
}

std::shared_ptr<Kernel> compileNode(Backend& backend, const OpSpec& s) {
  Epilogue e = epilogueOf(s);
  if (!e.any() || backend.fusesEpilogue(s)) return backend.compile(s);
  std::shared_ptr<Kernel> add, act;
  if (e.sum) {
    OpSpec a;
    a.id = s.id;
    a.op = "Add";
    a.attrs = json::object();
    a.ins = {{s.outShapes.at(0), DType::F32, nullptr}, {s.outShapes.at(0), DType::F32, nullptr}};
    a.outShapes = {s.outShapes.at(0)};
    a.outDtypes = {DType::F32};
    add = backend.compile(a);
  }
  if (!e.act.empty()) act = backend.compile(activationSpec(s, e));
  return std::make_shared<CompositeKernel>(backend.compile(withoutEpilogue(s)), add, act, s.ins.size() - 1);
}

}  // namespace ts
