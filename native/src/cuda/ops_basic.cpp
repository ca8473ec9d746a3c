// Host side of the elementwise and data-movement kernels: attribute checks (the same rules and
// messages as the CPU backend), then launches on the context's stream. Copies use the CUDA copy
// engines (cudaMemcpy2DAsync for Concat / Split rows) rather than kernels.
#include <cfloat>
#include <cmath>
#include <cstring>

#include "cuda_kernels.hpp"

namespace ts::cuda {

[[noreturn]] void unsupported(const OpSpec& s, const std::string& why) { throw Error(s.where() + ": unsupported by the CUDA backend: " + why); }

void requireF32(const OpSpec& s) {
  for (size_t i = 0; i < s.ins.size(); i++)
    if (s.ins[i].dtype != DType::F32) unsupported(s, "input " + std::to_string(i) + " is " + dtypeName(s.ins[i].dtype) + " (float32 only)");
}

void requireRank(const OpSpec& s, const Shape& shape, const char* what) {
  if (shape.size() > static_cast<size_t>(kMaxRank)) unsupported(s, std::string(what) + " of rank " + std::to_string(shape.size()) + " (at most " + std::to_string(kMaxRank) + ")");
}

Shape rowStrides(const Shape& s) {
  Shape st(s.size());
  int64_t v = 1;
  for (size_t i = s.size(); i-- > 0;) st[i] = v, v *= s[i];
  return st;
}

Shape broadcastStrides(const Shape& in, const Shape& out) {
  Shape p = in;
  while (p.size() < out.size()) p.insert(p.begin(), 1);
  Shape st = rowStrides(p);
  for (size_t i = 0; i < p.size(); i++)
    if (p[i] == 1 && out[i] != 1) st[i] = 0;
  return st;
}

Strided makeStrided(const Shape& out, const Shape& a, const Shape& b) {
  Strided v;
  if (out.empty()) {
    v.rank = 1;
    v.shape[0] = 1;
    return v;
  }
  v.rank = static_cast<int>(out.size());
  for (size_t d = 0; d < out.size(); d++) {
    v.shape[d] = out[d];
    v.a[d] = d < a.size() ? a[d] : 0;
    v.b[d] = d < b.size() ? b[d] : 0;
  }
  return v;
}

namespace {

class CopyKernel : public CudaKernel {
 public:
  explicit CopyKernel(size_t bytes) : CudaKernel("copy"), bytes_(bytes) {}
  void run(const KernelArgs& a) const override {
    // A memory plan may alias a reshape's output with its input: then there is nothing to do.
    if (a.out[0] != a.in[0] && bytes_) check(cudaMemcpyAsync(a.out[0], a.in[0], bytes_, cudaMemcpyDeviceToDevice, ctx(a).stream), "copy");
    done(a);
  }

 private:
  size_t bytes_;
};

/** Concat and Split: rows of [outer, Σ chunk] bytes; each part is a 2-D copy of its column range. */
class RowsKernel : public CudaKernel {
 public:
  RowsKernel(const OpSpec& s, bool concat) : CudaKernel(concat ? "concat" : "split"), concat_(concat) {
    const Shape& whole = concat ? s.outShapes[0] : s.ins[0].shape;
    int64_t axis = attrInt(s.attrs, "axis", 0, s.where());
    if (axis < 0) axis += static_cast<int64_t>(whole.size());
    if (axis < 0 || axis >= static_cast<int64_t>(whole.size())) unsupported(s, "axis out of range");
    size_t es = dtypeSize(concat ? s.outDtypes[0] : s.ins[0].dtype);
    outer_ = static_cast<size_t>(numel(Shape(whole.begin(), whole.begin() + axis)));
    if (concat) {
      for (const auto& in : s.ins) chunks_.push_back(static_cast<size_t>(numel(Shape(in.shape.begin() + axis, in.shape.end()))) * es);
    } else {
      for (const auto& y : s.outShapes) chunks_.push_back(static_cast<size_t>(numel(Shape(y.begin() + axis, y.end()))) * es);
    }
    for (size_t c : chunks_) row_ += c;
  }
  void run(const KernelArgs& a) const override {
    cudaStream_t st = ctx(a).stream;
    size_t off = 0;
    for (size_t i = 0; i < chunks_.size(); i++) {
      size_t c = chunks_[i];
      if (c && outer_) {
        auto* whole = static_cast<uint8_t*>(concat_ ? a.out[0] : const_cast<void*>(a.in[0])) + off;
        void* part = concat_ ? const_cast<void*>(a.in[i]) : a.out[i];
        void* dst = concat_ ? static_cast<void*>(whole) : part;
        const void* src = concat_ ? part : whole;
        size_t dpitch = concat_ ? row_ : c, spitch = concat_ ? c : row_;
        if (outer_ == 1) check(cudaMemcpyAsync(dst, src, c, cudaMemcpyDeviceToDevice, st), name());
        else check(cudaMemcpy2DAsync(dst, dpitch, src, spitch, c, outer_, cudaMemcpyDeviceToDevice, st), name());
      }
      off += c;
    }
    done(a);
  }

 private:
  const char* name() const { return concat_ ? "concat" : "split"; }
  bool concat_;
  size_t outer_ = 1, row_ = 0;
  std::vector<size_t> chunks_;
};

/** Inference BatchNorm folded per node into scale = γ/√(var+ε), shift = β − mean·scale (device). */
class BatchNormKernel : public CudaKernel {
 public:
  explicit BatchNormKernel(const OpSpec& s) : CudaKernel("batchnorm") {
    const Shape& x = s.ins[0].shape;
    if (x.size() < 2) unsupported(s, "input of rank < 2");
    if (attrInt(s.attrs, "training_mode", 0, s.where()) != 0) unsupported(s, "training_mode 1");
    for (size_t i = 1; i < 5; i++)
      if (!s.ins[i].data) unsupported(s, "non-constant scale/bias/mean/var (input " + std::to_string(i) + ")");
    eps_ = static_cast<float>(attrFloat(s.attrs, "epsilon", 1e-5, s.where()));
    n_ = numel(x), c_ = x[1], inner_ = numel(x) / std::max<int64_t>(1, x[0] * x[1]);
  }
  std::shared_ptr<const void> prepare(const OpSpec& s) const override {
    std::vector<float> host(static_cast<size_t>(2 * c_));
    const auto* g = static_cast<const float*>(s.ins[1].data);
    const auto* b = static_cast<const float*>(s.ins[2].data);
    const auto* m = static_cast<const float*>(s.ins[3].data);
    const auto* v = static_cast<const float*>(s.ins[4].data);
    for (int64_t c = 0; c < c_; c++) {
      float sc = g[c] / std::sqrt(v[c] + eps_);
      host[static_cast<size_t>(c)] = sc;
      host[static_cast<size_t>(c_ + c)] = b[c] - m[c] * sc;
    }
    return upload(host.data(), host.size() * 4);
  }
  void run(const KernelArgs& a) const override {
    const auto* p = static_cast<const float*>(static_cast<const DeviceBuffer*>(a.consts)->data());
    launchScaleShift(static_cast<const float*>(a.in[0]), static_cast<float*>(a.out[0]), p, p + c_, n_, c_, inner_, ctx(a).stream);
    done(a);
  }

 private:
  float eps_;
  int64_t n_, c_, inner_;
};

class UnaryKernel : public CudaKernel {
 public:
  explicit UnaryKernel(const OpSpec& s) : CudaKernel("unary"), n_(numel(s.ins[0].shape)) {
    const std::string w = s.where();
    if (s.op == "Relu") {
      op_ = Unary::Relu;
    } else if (s.op == "Clip") {
      op_ = Unary::Clip;
      p0_ = static_cast<float>(attrFloat(s.attrs, "min", -FLT_MAX, w));
      p1_ = static_cast<float>(attrFloat(s.attrs, "max", FLT_MAX, w));
    } else if (s.op == "Sigmoid") {
      op_ = Unary::Sigmoid;
    } else if (s.op == "Tanh") {
      op_ = Unary::Tanh;
    } else if (s.op == "Gelu") {
      std::string approx = attrStr(s.attrs, "approximate", "none", w);
      if (approx == "none") op_ = Unary::GeluErf;
      else if (approx == "tanh") op_ = Unary::GeluTanh;
      else unsupported(s, "approximate '" + approx + "'");
    } else if (s.op == "HardSigmoid") {
      op_ = Unary::HardSigmoid;
      p0_ = static_cast<float>(attrFloat(s.attrs, "alpha", 0.2, w));
      p1_ = static_cast<float>(attrFloat(s.attrs, "beta", 0.5, w));
    } else if (s.op == "LeakyRelu") {
      op_ = Unary::LeakyRelu;
      p0_ = static_cast<float>(attrFloat(s.attrs, "alpha", 0.01, w));
    } else {
      static const std::pair<const char*, Unary> kPlain[] = {{"HardSwish", Unary::HardSwish}, {"Sqrt", Unary::Sqrt}, {"Exp", Unary::Exp},
                                                             {"Log", Unary::Log},             {"Abs", Unary::Abs},   {"Neg", Unary::Neg},
                                                             {"Reciprocal", Unary::Reciprocal}, {"Erf", Unary::Erf}};
      bool found = false;
      for (const auto& [name, u] : kPlain)
        if (s.op == name) op_ = u, found = true;
      if (!found) unsupported(s, "not an elementwise unary op");
    }
  }
  void run(const KernelArgs& a) const override {
    launchUnary(op_, static_cast<const float*>(a.in[0]), static_cast<float*>(a.out[0]), n_, p0_, p1_, ctx(a).stream);
    done(a);
  }

 private:
  Unary op_ = Unary::Relu;
  int64_t n_;
  float p0_ = 0, p1_ = 0;
};

class BinaryKernel : public CudaKernel {
 public:
  explicit BinaryKernel(const OpSpec& s) : CudaKernel("binary") {
    requireF32(s);
    const Shape& y = s.outShapes[0];
    requireRank(s, y, "output");
    static const std::pair<const char*, BinOp> kOps[] = {{"Add", BinOp::Add}, {"Sub", BinOp::Sub}, {"Mul", BinOp::Mul}, {"Div", BinOp::Div},
                                                        {"Pow", BinOp::Pow}, {"Max", BinOp::Max}, {"Min", BinOp::Min}, {"PRelu", BinOp::PRelu}};
    bool found = false;
    for (const auto& [name, b] : kOps)
      if (s.op == name) op_ = b, found = true;
    if (!found) unsupported(s, "not a binary op");
    v_ = makeStrided(y, broadcastStrides(s.ins[0].shape, y), broadcastStrides(s.ins[1].shape, y));
  }
  void run(const KernelArgs& a) const override {
    launchBinary(op_, static_cast<const float*>(a.in[0]), static_cast<const float*>(a.in[1]), static_cast<float*>(a.out[0]), v_, ctx(a).stream);
    done(a);
  }

 private:
  BinOp op_ = BinOp::Add;
  Strided v_;
};

/** Expand and Transpose: out[i] = in[strided offset], 4- or 8-byte elements. */
class StridedCopyKernel : public CudaKernel {
 public:
  StridedCopyKernel(const char* name, const Strided& v, int es) : CudaKernel(name), v_(v), es_(es) {}
  void run(const KernelArgs& a) const override {
    launchStridedCopy(a.in[0], a.out[0], v_, es_, ctx(a).stream);
    done(a);
  }

 private:
  Strided v_;
  int es_;
};

class PadKernel : public CudaKernel {
 public:
  explicit PadKernel(const OpSpec& s) : CudaKernel("pad") {
    const std::string w = s.where();
    const Shape& x = s.ins[0].shape;
    if (attrStr(s.attrs, "mode", "constant", w) != "constant") unsupported(s, "mode '" + attrStr(s.attrs, "mode", "", w) + "' (constant only)");
    auto pads = attrInts(s.attrs, "pads", {}, w);
    if (pads.size() != 2 * x.size()) unsupported(s, "pads do not match the rank");
    if (x.empty()) unsupported(s, "rank-0 input");
    requireRank(s, x, "input");
    es_ = static_cast<int>(dtypeSize(s.ins[0].dtype));
    double v = attrFloat(s.attrs, "value", 0.0, w);
    if (es_ == 4) {
      float f = static_cast<float>(v);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      value_ = bits;
    } else {
      auto i = static_cast<int64_t>(v);
      std::memcpy(&value_, &i, 8);
    }
    v_ = makeStrided(s.outShapes[0], rowStrides(x));
    for (size_t d = 0; d < x.size(); d++) lo_[d] = pads[d], in_[d] = x[d];
  }
  void run(const KernelArgs& a) const override {
    launchPad(a.in[0], a.out[0], v_, lo_, in_, es_, value_, ctx(a).stream);
    done(a);
  }

 private:
  Strided v_;
  int64_t lo_[kMaxRank] = {}, in_[kMaxRank] = {};
  int es_ = 4;
  uint64_t value_ = 0;
};

class GatherKernel : public CudaKernel {
 public:
  explicit GatherKernel(const OpSpec& s) : CudaKernel("gather") {
    const Shape& d = s.ins[0].shape;
    if (s.ins[1].dtype != DType::I64) unsupported(s, "indices must be int64");
    int64_t axis = attrInt(s.attrs, "axis", 0, s.where());
    if (axis < 0) axis += static_cast<int64_t>(d.size());
    if (axis < 0 || axis >= static_cast<int64_t>(d.size())) unsupported(s, "axis out of range");
    outer_ = numel(Shape(d.begin(), d.begin() + axis));
    dim_ = d[static_cast<size_t>(axis)];
    rowBytes_ = numel(Shape(d.begin() + axis + 1, d.end())) * static_cast<int64_t>(dtypeSize(s.ins[0].dtype));
    nIdx_ = numel(s.ins[1].shape);
  }
  void run(const KernelArgs& a) const override {
    CudaContext& c = ctx(a);
    launchGather(a.in[0], static_cast<const int64_t*>(a.in[1]), a.out[0], outer_, dim_, nIdx_, rowBytes_, c.errorFlag(), c.stream);
    done(a);
    // On executor streams the op has finished: a bad index is reported here, naming the range
    // (the CPU kernel's message). The schedule runner checks the flag once at the end of a run.
    if (c.syncEachOp && c.takeError()) throw Error("index out of range [" + std::to_string(-dim_) + ", " + std::to_string(dim_) + ")");
  }

 private:
  int64_t outer_, dim_, nIdx_, rowBytes_;
};

}  // namespace

KernelPtr makeCopy(const OpSpec& s) { return std::make_shared<CopyKernel>(static_cast<size_t>(numel(s.ins[0].shape)) * dtypeSize(s.ins[0].dtype)); }
KernelPtr makeConcat(const OpSpec& s) { return std::make_shared<RowsKernel>(s, true); }
KernelPtr makeSplit(const OpSpec& s) { return std::make_shared<RowsKernel>(s, false); }
KernelPtr makeBatchNorm(const OpSpec& s) {
  requireF32(s);
  return std::make_shared<BatchNormKernel>(s);
}
KernelPtr makeUnary(const OpSpec& s) {
  requireF32(s);
  return std::make_shared<UnaryKernel>(s);
}
KernelPtr makeBinary(const OpSpec& s) {
  requireF32(s);
  return std::make_shared<BinaryKernel>(s);
}
KernelPtr makeExpand(const OpSpec& s) {
  const Shape& y = s.outShapes[0];
  requireRank(s, y, "output");
  return std::make_shared<StridedCopyKernel>("expand", makeStrided(y, broadcastStrides(s.ins[0].shape, y)), static_cast<int>(dtypeSize(s.ins[0].dtype)));
}
KernelPtr makeTranspose(const OpSpec& s) {
  const Shape& x = s.ins[0].shape;
  requireRank(s, x, "input");
  size_t r = x.size();
  auto p = attrInts(s.attrs, "perm", {}, s.where());
  if (!p.empty() && p.size() != r) unsupported(s, "perm does not match the rank");
  Shape in = rowStrides(x), st(r);
  for (size_t i = 0; i < r; i++) {
    int64_t src = p.empty() ? static_cast<int64_t>(r - 1 - i) : p[i];
    if (src < 0 || src >= static_cast<int64_t>(r)) unsupported(s, "perm entry out of range");
    st[i] = in[static_cast<size_t>(src)];
  }
  return std::make_shared<StridedCopyKernel>("transpose", makeStrided(s.outShapes[0], st), static_cast<int>(dtypeSize(s.ins[0].dtype)));
}
KernelPtr makePad(const OpSpec& s) { return std::make_shared<PadKernel>(s); }
KernelPtr makeGather(const OpSpec& s) { return std::make_shared<GatherKernel>(s); }

}  // namespace ts::cuda
