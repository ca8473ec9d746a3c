// Host side of the spatial, linear and normalization kernels: Resize (index tables built exactly
// as the CPU kernel builds them, then uploaded), pooling, convolutions, Gemm / MatMul on the tiled
// SGEMM, Softmax, LayerNorm and reductions.
#include <algorithm>
#include <cmath>

#include "../resize_coords.hpp"
#include "cuda_kernels.hpp"

namespace ts::cuda {

Window2d convWindow(const OpSpec& s, int64_t kh, int64_t kw) {
  const std::string w = s.where();
  std::string autoPad = attrStr(s.attrs, "auto_pad", "NOTSET", w);
  if (autoPad != "NOTSET") unsupported(s, "auto_pad '" + autoPad + "' (give explicit pads)");
  auto st = attrInts(s.attrs, "strides", {1, 1}, w);
  auto dl = attrInts(s.attrs, "dilations", {1, 1}, w);
  auto pd = attrInts(s.attrs, "pads", {0, 0, 0, 0}, w);
  if (st.size() != 2 || dl.size() != 2 || pd.size() != 4) unsupported(s, "only 2-D windows (strides[2], dilations[2], pads[4])");
  return {kh, kw, st[0], st[1], dl[0], dl[1], pd[0], pd[1], pd[2], pd[3]};
}

Window2d poolWindow(const OpSpec& s) {
  const std::string w = s.where();
  auto k = attrInts(s.attrs, "kernel_shape", {}, w);
  if (k.size() != 2) unsupported(s, "only 2-D windows");
  if (attrInt(s.attrs, "storage_order", 0, w) != 0) unsupported(s, "storage_order 1");
  return convWindow(s, k[0], k[1]);
}

namespace {

class ResizeKernel : public CudaKernel {
 public:
  explicit ResizeKernel(const OpSpec& s) : CudaKernel("resize") {
    const Shape& x = s.ins[0].shape;
    const Shape& y = s.outShapes[0];
    requireRank(s, x, "input");
    ResizeTables t = resizeTables(s, unsupported);
    size_t r = x.size();
    // The device reads one flat table per kind; tab[d] is where dimension d starts.
    std::vector<int64_t> lo, hi;
    std::vector<float> frac;
    args_.rank = static_cast<int>(r);
    args_.linear = t.linear;
    for (size_t d = 0; d < r; d++) {
      args_.in[d] = x[d], args_.out[d] = y[d], args_.tab[d] = static_cast<int64_t>(lo.size());
      lo.insert(lo.end(), t.lo[d].begin(), t.lo[d].end());
      hi.insert(hi.end(), t.hi[d].begin(), t.hi[d].end());
      frac.insert(frac.end(), t.frac[d].begin(), t.frac[d].end());
    }
    lo_ = upload(lo.data(), lo.size() * 8);
    hi_ = upload(hi.data(), hi.size() * 8);
    frac_ = upload(frac.data(), frac.size() * 4);
    args_.lo = static_cast<const int64_t*>(lo_->data());
    args_.hi = static_cast<const int64_t*>(hi_->data());
    args_.frac = static_cast<const float*>(frac_->data());
  }
  void run(const KernelArgs& a) const override {
    launchResize(static_cast<const float*>(a.in[0]), static_cast<float*>(a.out[0]), args_, ctx(a).stream);
    done(a);
  }

 private:
  ResizeArgs args_;
  std::shared_ptr<DeviceBuffer> lo_, hi_, frac_;
};

class PoolKernel : public CudaKernel {
 public:
  explicit PoolKernel(const PoolArgs& p) : CudaKernel("pool"), p_(p) {}
  void run(const KernelArgs& a) const override {
    launchPool2d(static_cast<const float*>(a.in[0]), static_cast<float*>(a.out[0]), p_, ctx(a).stream);
    done(a);
  }

 private:
  PoolArgs p_;
};

class RowMeanKernel : public CudaKernel {
 public:
  RowMeanKernel(int64_t rows, int64_t inner) : CudaKernel("globalavgpool"), rows_(rows), inner_(inner) {}
  void run(const KernelArgs& a) const override {
    launchRowMean(static_cast<const float*>(a.in[0]), static_cast<float*>(a.out[0]), rows_, inner_, ctx(a).stream);
    done(a);
  }

 private:
  int64_t rows_, inner_;
};

/** Gemm / MatMul / 1×1 convolution on the tiled SGEMM; inputs[bias] (when ≥ 0) is the addend. */
class GemmKernel : public CudaKernel {
 public:
  GemmKernel(const char* name, const GemmArgs& g, int aIn, int bIn, int cIn, bool constC) : CudaKernel(name), g_(g), aIn_(aIn), bIn_(bIn), cIn_(cIn), constC_(constC) {}
  /** beta·C for a constant C with beta ≠ 1 (the CPU backend pre-scales the same way). */
  float beta = 1.f;
  std::shared_ptr<const void> prepare(const OpSpec& s) const override {
    if (!constC_ || beta == 1.f) return nullptr;
    int64_t n = numel(s.ins[static_cast<size_t>(cIn_)].shape);
    std::vector<float> c(static_cast<size_t>(n));
    const auto* src = static_cast<const float*>(s.ins[static_cast<size_t>(cIn_)].data);
    for (int64_t i = 0; i < n; i++) c[static_cast<size_t>(i)] = beta * src[i];
    return upload(c.data(), c.size() * 4);
  }
  void run(const KernelArgs& a) const override {
    GemmArgs g = g_;
    if (cIn_ >= 0) g.c = a.consts ? static_cast<const float*>(static_cast<const DeviceBuffer*>(a.consts)->data()) : static_cast<const float*>(a.in[cIn_]);
    launchGemm(static_cast<const float*>(a.in[aIn_]), static_cast<const float*>(a.in[bIn_]), static_cast<float*>(a.out[0]), g, ctx(a).stream);
    done(a);
  }

 private:
  GemmArgs g_;
  int aIn_, bIn_, cIn_;
  bool constC_;
};

class ConvKernel : public CudaKernel {
 public:
  ConvKernel(const char* name, const ConvArgs& c, bool transpose, bool bias) : CudaKernel(name), c_(c), transpose_(transpose), bias_(bias) {}
  void run(const KernelArgs& a) const override {
    const auto* x = static_cast<const float*>(a.in[0]);
    const auto* w = static_cast<const float*>(a.in[1]);
    const auto* b = bias_ ? static_cast<const float*>(a.in[2]) : nullptr;
    auto* y = static_cast<float*>(a.out[0]);
    if (transpose_) launchConvTranspose2d(x, w, b, y, c_, ctx(a).stream);
    else launchConv2d(x, w, b, y, c_, ctx(a).stream);
    done(a);
  }

 private:
  ConvArgs c_;
  bool transpose_, bias_;
};

class SoftmaxKernel : public CudaKernel {
 public:
  SoftmaxKernel(int64_t outer, int64_t d, int64_t inner) : CudaKernel("softmax"), outer_(outer), d_(d), inner_(inner) {}
  void run(const KernelArgs& a) const override {
    launchSoftmax(static_cast<const float*>(a.in[0]), static_cast<float*>(a.out[0]), outer_, d_, inner_, ctx(a).stream);
    done(a);
  }

 private:
  int64_t outer_, d_, inner_;
};

class LayerNormKernel : public CudaKernel {
 public:
  LayerNormKernel(int64_t outer, int64_t inner, float eps, bool bias) : CudaKernel("layernorm"), outer_(outer), inner_(inner), eps_(eps), bias_(bias) {}
  void run(const KernelArgs& a) const override {
    launchLayerNorm(static_cast<const float*>(a.in[0]), static_cast<const float*>(a.in[1]), bias_ ? static_cast<const float*>(a.in[2]) : nullptr, static_cast<float*>(a.out[0]),
                    outer_, inner_, eps_, ctx(a).stream);
    done(a);
  }

 private:
  int64_t outer_, inner_;
  float eps_;
  bool bias_;
};

class ReduceKernel : public CudaKernel {
 public:
  ReduceKernel(const Shape& x, const std::vector<bool>& red, bool mean) : CudaKernel("reduce"), rank_(static_cast<int>(x.size())), mean_(mean) {
    for (size_t i = 0; i < x.size(); i++) shape_[i] = x[i], red_[i] = red[i];
  }
  void run(const KernelArgs& a) const override {
    launchReduce(static_cast<const float*>(a.in[0]), static_cast<float*>(a.out[0]), shape_, red_, rank_, mean_, ctx(a).stream);
    done(a);
  }

 private:
  int64_t shape_[kMaxRank] = {};
  bool red_[kMaxRank] = {};
  int rank_;
  bool mean_;
};

int64_t normAxis(const OpSpec& s, int64_t axis, size_t rank) {
  if (axis < 0) axis += static_cast<int64_t>(rank);
  if (axis < 0 || axis >= static_cast<int64_t>(rank)) unsupported(s, "axis out of range");
  return axis;
}

}  // namespace

KernelPtr makeResize(const OpSpec& s) {
  requireF32(s);
  return std::make_shared<ResizeKernel>(s);
}

KernelPtr makePool(const OpSpec& s) {
  requireF32(s);
  const Shape& x = s.ins[0].shape;
  const Shape& y = s.outShapes[0];
  if (x.size() != 4) unsupported(s, "only 2-D pooling (NCHW)");
  if (s.op == "GlobalAveragePool") return std::make_shared<RowMeanKernel>(x[0] * x[1], x[2] * x[3]);
  Window2d w = poolWindow(s);
  PoolArgs p;
  p.NC = x[0] * x[1], p.H = x[2], p.W = x[3], p.OH = y[2], p.OW = y[3];
  p.kh = w.kh, p.kw = w.kw, p.sh = w.sh, p.sw = w.sw, p.dh = w.dh, p.dw = w.dw, p.pt = w.pt, p.pl = w.pl, p.pb = w.pb, p.pr = w.pr;
  p.isMax = s.op == "MaxPool";
  p.countPad = !p.isMax && attrInt(s.attrs, "count_include_pad", 0, s.where()) != 0;
  return std::make_shared<PoolKernel>(p);
}

KernelPtr makeConv(const OpSpec& s) {
  requireF32(s);
  const Shape& x = s.ins[0].shape;
  const Shape& wt = s.ins[1].shape;
  const Shape& y = s.outShapes[0];
  if (x.size() != 4 || wt.size() != 4) unsupported(s, "only 2-D convolution (NCHW input, OIHW weight)");
  int64_t g = attrInt(s.attrs, "group", 1, s.where());
  if (g < 1 || x[1] % g || wt[0] % g || wt[1] * g != x[1]) unsupported(s, "channels do not divide into " + std::to_string(g) + " groups");
  Window2d w = convWindow(s, wt[2], wt[3]);
  bool bias = s.ins.size() > 2;
  if (g == 1 && w.kh == 1 && w.kw == 1 && w.sh == 1 && w.sw == 1 && w.pt == 0 && w.pl == 0 && w.pb == 0 && w.pr == 0) {
    // 1×1: Y[n] (O × HW) = W (O × C) · X[n] (C × HW), bias as a per-row addend.
    GemmArgs ga;
    ga.M = wt[0], ga.N = x[2] * x[3], ga.K = x[1];
    ga.am = ga.K, ga.ak = 1, ga.bk = ga.N, ga.bn = 1;
    ga.batchRank = 1, ga.batch[0] = x[0], ga.aBatch[0] = 0, ga.bBatch[0] = x[1] * x[2] * x[3];
    ga.cm = bias ? 1 : 0, ga.cn = 0;
    if ((ga.M + 63) / 64 > 65535) unsupported(s, "too many output channels for the GEMM grid");
    return std::make_shared<GemmKernel>("conv1x1", ga, 1, 0, bias ? 2 : -1, false);
  }
  if (8 * w.kh * w.kw * 4 > 48 * 1024) unsupported(s, "kernel window larger than 1536 taps");
  // Grid limits of the direct kernel (launchConv2d): y = output-channel tiles × groups, z = batch.
  if ((wt[0] / g + 7) / 8 * g > 65535 || x[0] > 65535) unsupported(s, "too many output channels or images for the direct convolution grid");
  ConvArgs c;
  c.N = x[0], c.C = x[1], c.H = x[2], c.W = x[3], c.O = wt[0], c.OH = y[2], c.OW = y[3], c.KH = w.kh, c.KW = w.kw;
  c.sh = w.sh, c.sw = w.sw, c.dh = w.dh, c.dw = w.dw, c.pt = w.pt, c.pl = w.pl, c.groups = g;
  return std::make_shared<ConvKernel>("conv", c, false, bias);
}

KernelPtr makeConvTranspose(const OpSpec& s) {
  requireF32(s);
  const Shape& x = s.ins[0].shape;
  const Shape& wt = s.ins[1].shape;  // [C, O / group, KH, KW]
  const Shape& y = s.outShapes[0];
  if (x.size() != 4 || wt.size() != 4) unsupported(s, "only 2-D transposed convolution");
  if (s.attrs.contains("output_shape")) unsupported(s, "attribute output_shape (give pads)");
  int64_t g = attrInt(s.attrs, "group", 1, s.where());
  if (g < 1 || x[1] % g || wt[0] != x[1] || y[1] != wt[1] * g) unsupported(s, "weight shape does not match the groups");
  Window2d w = convWindow(s, wt[2], wt[3]);
  ConvArgs c;
  c.N = x[0], c.C = x[1], c.H = x[2], c.W = x[3], c.O = y[1], c.OH = y[2], c.OW = y[3], c.KH = w.kh, c.KW = w.kw;
  c.sh = w.sh, c.sw = w.sw, c.dh = w.dh, c.dw = w.dw, c.pt = w.pt, c.pl = w.pl, c.groups = g;
  return std::make_shared<ConvKernel>("convtranspose", c, true, s.ins.size() > 2);
}

KernelPtr makeGemm(const OpSpec& s) {
  requireF32(s);
  const std::string wh = s.where();
  const Shape& a = s.ins[0].shape;
  const Shape& b = s.ins[1].shape;
  if (a.size() != 2 || b.size() != 2) unsupported(s, "Gemm inputs must be 2-D");
  bool ta = attrInt(s.attrs, "transA", 0, wh) != 0, tb = attrInt(s.attrs, "transB", 0, wh) != 0;
  GemmArgs g;
  g.M = ta ? a[1] : a[0], g.K = ta ? a[0] : a[1], g.N = tb ? b[0] : b[1];
  g.am = ta ? 1 : a[1], g.ak = ta ? a[1] : 1;
  g.bk = tb ? 1 : b[1], g.bn = tb ? b[1] : 1;
  g.alpha = static_cast<float>(attrFloat(s.attrs, "alpha", 1.0, wh));
  float beta = static_cast<float>(attrFloat(s.attrs, "beta", 1.0, wh));
  bool hasC = s.ins.size() > 2, constC = hasC && s.ins[2].data != nullptr;
  if (hasC) {
    if (beta != 1.0f && !constC) unsupported(s, "beta != 1 with a non-constant C");
    Shape st = broadcastStrides(s.ins[2].shape, {g.M, g.N});
    g.cm = st[0], g.cn = st[1];
  }
  if ((g.M + 63) / 64 > 65535) unsupported(s, "M too large for the GEMM grid");
  auto k = std::make_shared<GemmKernel>("gemm", g, 0, 1, hasC ? 2 : -1, constC);
  k->beta = beta;
  return k;
}

KernelPtr makeMatMul(const OpSpec& s) {
  requireF32(s);
  Shape a = s.ins[0].shape, b = s.ins[1].shape;
  const Shape& y = s.outShapes[0];
  if (a.size() < 2 || b.size() < 2) unsupported(s, "inputs of rank < 2");
  if (y.size() > static_cast<size_t>(kMaxRank) + 2) unsupported(s, "rank > " + std::to_string(kMaxRank + 2));
  while (a.size() < y.size()) a.insert(a.begin(), 1);
  while (b.size() < y.size()) b.insert(b.begin(), 1);
  size_t r = y.size();
  GemmArgs g;
  g.M = a[r - 2], g.K = a[r - 1], g.N = b[r - 1];
  g.am = g.K, g.ak = 1, g.bk = g.N, g.bn = 1;
  Shape as = rowStrides(a), bs = rowStrides(b);
  g.batchRank = static_cast<int>(r - 2);
  for (size_t d = 0; d + 2 < r; d++) {
    g.batch[d] = y[d];
    g.aBatch[d] = a[d] == 1 && y[d] != 1 ? 0 : as[d];
    g.bBatch[d] = b[d] == 1 && y[d] != 1 ? 0 : bs[d];
  }
  if ((g.M + 63) / 64 > 65535) unsupported(s, "M too large for the GEMM grid");
  return std::make_shared<GemmKernel>("matmul", g, 0, 1, -1, false);
}

KernelPtr makeSoftmax(const OpSpec& s) {
  requireF32(s);
  const Shape& x = s.ins[0].shape;
  int64_t axis = normAxis(s, attrInt(s.attrs, "axis", -1, s.where()), x.size());
  return std::make_shared<SoftmaxKernel>(numel(Shape(x.begin(), x.begin() + axis)), x[static_cast<size_t>(axis)], numel(Shape(x.begin() + axis + 1, x.end())));
}

KernelPtr makeLayerNorm(const OpSpec& s) {
  requireF32(s);
  const Shape& x = s.ins[0].shape;
  const std::string w = s.where();
  int64_t axis = normAxis(s, attrInt(s.attrs, "axis", -1, w), x.size());
  if (s.outShapes.size() > 1) unsupported(s, "Mean / InvStdDev outputs");
  int64_t inner = numel(Shape(x.begin() + axis, x.end()));
  int64_t outer = inner ? numel(x) / inner : 0;
  if (outer > 0x7fffffffLL) unsupported(s, "more than 2^31 rows");
  return std::make_shared<LayerNormKernel>(outer, inner, static_cast<float>(attrFloat(s.attrs, "epsilon", 1e-5, w)), s.ins.size() > 2);
}

KernelPtr makeReduce(const OpSpec& s) {
  requireF32(s);
  const Shape& x = s.ins[0].shape;
  const std::string w = s.where();
  requireRank(s, x, "input");
  auto axes = attrInts(s.attrs, "axes", {}, w);
  std::vector<bool> red(x.size(), false);
  if (axes.empty()) {
    // ONNX: no axes reduces everything unless noop_with_empty_axes.
    if (attrInt(s.attrs, "noop_with_empty_axes", 0, w)) unsupported(s, "noop_with_empty_axes");
    red.assign(x.size(), true);
  }
  for (int64_t a : axes) red[static_cast<size_t>(normAxis(s, a, x.size()))] = true;
  return std::make_shared<ReduceKernel>(x, red, s.op == "ReduceMean");
}

}  // namespace ts::cuda
