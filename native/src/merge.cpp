// Merge stages (IOS): sibling convolutions reading one tensor run as one wider convolution. Smaller
// kernels are zero-padded to the largest (centred, as the schedule check guarantees), weights and
// biases are concatenated along output channels; the fused output is split back per conv.
#include <cstring>

#include "epilogue.hpp"
#include "plan.hpp"

namespace ts {

MergedConv::~MergedConv() {
  if (weights && backend) backend->dealloc(weights, weightBytes);
}

std::shared_ptr<MergedConv> buildMerge(Model& m, const std::vector<int>& convs, Backend& backend, int threads) {
  std::string key = threads > 0 ? "threads " + std::to_string(threads) + "\n" : "";
  for (int n : convs) key += m.nodes[static_cast<size_t>(n)].id + "\n";
  std::lock_guard<std::mutex> lock(m.mergeMu);
  auto it = m.merges.find(key);
  if (it != m.merges.end()) return std::static_pointer_cast<MergedConv>(it->second);

  // The conv with the largest kernel sets the fused window (its pads); others sit centred in it.
  size_t big = 0;
  int64_t KH = 0, KW = 0;
  for (size_t i = 0; i < convs.size(); i++) {
    const Shape& w = m.tensors[static_cast<size_t>(m.nodes[static_cast<size_t>(convs[i])].inputs[1])].shape;
    if (w[2] * w[3] > KH * KW) KH = w[2], KW = w[3], big = i;
  }
  const NodeInfo& lead = m.nodes[static_cast<size_t>(convs[big])];
  const Shape& x = m.tensors[static_cast<size_t>(lead.inputs[0])].shape;
  const int64_t C = x[1];
  auto mc = std::make_shared<MergedConv>();
  int64_t sumO = 0;
  for (int n : convs) {
    int64_t o = m.tensors[static_cast<size_t>(m.nodes[static_cast<size_t>(n)].inputs[1])].shape[0];
    mc->channels.push_back(o);
    sumO += o;
  }
  const Shape& y0 = m.tensors[static_cast<size_t>(lead.outputs[0])].shape;
  mc->fusedShape = {y0[0], sumO, y0[2], y0[3]};
  size_t wElems = static_cast<size_t>(sumO * C * KH * KW);
  std::vector<float> host(wElems + static_cast<size_t>(sumO), 0.f);
  float* W = host.data();
  float* B = W + wElems;
  int64_t o0 = 0;
  for (size_t i = 0; i < convs.size(); i++) {
    const NodeInfo& n = m.nodes[static_cast<size_t>(convs[i])];
    const TensorInfo& wt = m.tensors[static_cast<size_t>(n.inputs[1])];
    const auto* w = reinterpret_cast<const float*>(static_cast<const uint8_t*>(m.hostWeights.data()) + wt.weightOffset);
    int64_t O = wt.shape[0], kh = wt.shape[2], kw = wt.shape[3], dh = (KH - kh) / 2, dw = (KW - kw) / 2;
    for (int64_t o = 0; o < O; o++)
      for (int64_t c = 0; c < C; c++)
        for (int64_t a = 0; a < kh; a++)
          std::memcpy(W + (((o0 + o) * C + c) * KH + dh + a) * KW + dw, w + ((o * C + c) * kh + a) * kw, static_cast<size_t>(kw) * 4);
    if (n.inputs.size() > 2) {
      const TensorInfo& bt = m.tensors[static_cast<size_t>(n.inputs[2])];
      std::memcpy(B + o0, static_cast<const uint8_t*>(m.hostWeights.data()) + bt.weightOffset, static_cast<size_t>(O) * 4);
    }
    o0 += O;
  }
  OpSpec s;
  s.id = "merge(" + key.substr(0, key.size() - 1) + ")";
  for (char& ch : s.id)
    if (ch == '\n') ch = ',';
  s.op = "Conv";
  s.threads = threads;
  s.attrs = lead.attrs;
  s.attrs["kernel_shape"] = {KH, KW};
  s.attrs["group"] = 1;
  s.ins.push_back({x, DType::F32, nullptr});
  s.ins.push_back({{sumO, C, KH, KW}, DType::F32, W});
  s.ins.push_back({{sumO}, DType::F32, B});
  s.outShapes.push_back(mc->fusedShape);
  s.outDtypes.push_back(DType::F32);
  // Layouts (layout.hpp): the shared input as it is; the fused output blocked when every conv's
  // output is (then the split is a plain chunk copy), else plain and the split converts.
  int fusedLayout = m.tensors[static_cast<size_t>(m.nodes[static_cast<size_t>(convs[0])].outputs[0])].layout;
  for (int v : convs)
    if (m.tensors[static_cast<size_t>(m.nodes[static_cast<size_t>(v)].outputs[0])].layout != fusedLayout) fusedLayout = 0;
  s.inLayout = {m.tensors[static_cast<size_t>(lead.inputs[0])].layout};
  s.outLayout = {fusedLayout};
  mc->kernel = compileNode(backend, s);
  mc->consts = mc->kernel->prepare(s);
  OpSpec sp;
  sp.id = s.id;
  sp.op = "Split";
  sp.threads = threads;
  sp.attrs = {{"axis", 1}, {"split", mc->channels}};
  sp.ins.push_back({mc->fusedShape, DType::F32, nullptr});
  sp.inLayout = {fusedLayout};
  for (size_t i = 0; i < convs.size(); i++) {
    sp.outShapes.push_back({y0[0], mc->channels[i], y0[2], y0[3]});
    sp.outDtypes.push_back(DType::F32);
    sp.outLayout.push_back(m.tensors[static_cast<size_t>(m.nodes[static_cast<size_t>(convs[i])].outputs[0])].layout);
  }
  mc->split = backend.compile(sp);
  mc->biasOffset = wElems * 4;
  mc->weightBytes = host.size() * 4;
  mc->weights = backend.alloc(mc->weightBytes);
  mc->backend = &backend;
  backend.toDevice(mc->weights, host.data(), mc->weightBytes);
  m.merges[key] = mc;
  return mc;
}

}  // namespace ts
