// In-place Concat: producers write straight into their slice of a Concat's output, and the Concat
// has nothing left to do.
//
// An input of a Concat is one contiguous byte range of the output when the dims before the axis
// multiply to 1 (batch 1 along channels, say), in the plain layout or in a channel-blocked one along
// channels (nChw8c / nChw16c keep whole 8- or 16-channel blocks, and layout assignment blocks a
// tensor only when its channels fill them). The executor then hands each producer the address of its
// slice. onnxruntime's CPU Concat copies; so did this executor. At batch 8 a slice is 8 strided
// pieces, which oneDNN 2.6 only writes through its reference convolution (measured: 25 s instead
// of 16 ms for a 3x3 conv), so larger batches keep the copy.
//
// Decided per model at load, after layouts. 'caching' memory applies it always (executor.cpp
// allocSliced); 'planned' memory where the plan places every input at its slice (the arena planner
// does when given the model's slices; checkPlan unites their lifetimes); 'trace' keeps the copy.
#include <cstdlib>
#include <set>

#include "model.hpp"

namespace ts {

namespace {

bool enabled() {
  const char* v = std::getenv("TOPSCHED_INPLACE_CONCAT");
  if (!v || !*v || std::string(v) == "1") return true;
  if (std::string(v) == "0") return false;
  throw Error(std::string("TOPSCHED_INPLACE_CONCAT must be 0 or 1, got '") + v + "'");
}

}  // namespace

int assignConcatSlices(Model& m) {
  if (!enabled()) return 0;
  int count = 0;
  for (NodeInfo& n : m.nodes) {
    if (n.op != "Concat" || n.outputs.size() != 1 || n.inputs.empty()) continue;
    TensorInfo& out = m.tensors[static_cast<size_t>(n.outputs[0])];
    const int64_t rank = static_cast<int64_t>(out.shape.size());
    int64_t axis = attrInt(n.attrs, "axis", 0, n.where());
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank || out.kind != TensorKind::Activation || out.sliceOf >= 0) continue;
    int64_t outer = 1;
    for (int64_t i = 0; i < axis; i++) outer *= out.shape[static_cast<size_t>(i)];
    const bool blocked = out.layout == Layout::Blocked8 || out.layout == Layout::Blocked16;
    if (outer != 1 || (out.layout != Layout::Plain && !(blocked && rank == 4 && axis == 1))) continue;
    std::set<int> seen;
    bool ok = true;
    size_t offset = 0;
    for (int in : n.inputs) {
      const TensorInfo& ti = m.tensors[static_cast<size_t>(in)];
      // Produced by an op of this model (not a graph input or weight), read by nobody after the run,
      // not already a slice or holding slices (one level), laid out like the output, once only.
      ok = ok && ti.kind == TensorKind::Activation && ti.producer >= 0 && !ti.graphOutput && ti.sliceOf < 0 && ti.slices == 0 && ti.layout == out.layout && ti.dtype == out.dtype &&
           seen.insert(in).second && (!blocked || (ti.shape.size() == 4 && ti.shape[1] % out.layout == 0));
      offset += ti.bytes;
    }
    if (!ok || offset != out.bytes) continue;
    offset = 0;
    for (int in : n.inputs) {
      TensorInfo& ti = m.tensors[static_cast<size_t>(in)];
      ti.sliceOf = n.outputs[0], ti.sliceOffset = offset;
      offset += ti.bytes;
    }
    out.slices = static_cast<int>(n.inputs.size());
    n.inPlaceConcat = true;
    count++;
  }
  return count;
}

}  // namespace ts
