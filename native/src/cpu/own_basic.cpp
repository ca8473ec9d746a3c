// Hand-written kernels: copies (Reshape/Flatten/Identity), Concat, Split, BatchNorm (folded to a
// per-channel scale and shift), HardSigmoid, broadcasting binary ops, Expand and generic Transpose.
#include <array>
#include <cmath>
#include <cstring>

#include "kernels.hpp"
#include "own_util.hpp"

namespace ts::cpu {

namespace {

class CopyKernel : public OwnKernel {
 public:
  explicit CopyKernel(size_t bytes) : OwnKernel("copy"), bytes_(bytes) {}
  void run(const KernelArgs& a) const override {
    // A memory plan may alias a reshape's output with its input: then there is nothing to do.
    if (a.out[0] != a.in[0]) std::memcpy(a.out[0], a.in[0], bytes_);
  }

 private:
  size_t bytes_;
};

/** Rows of [outer, axis·inner] blocks: Concat copies each input's block into its column range. */
class ConcatKernel : public OwnKernel {
 public:
  explicit ConcatKernel(const OpSpec& s) : OwnKernel("concat") {
    const Shape& y = s.outShapes[0];
    int64_t axis = attrInt(s.attrs, "axis", 0, s.where());
    if (axis < 0) axis += static_cast<int64_t>(y.size());
    size_t es = dtypeSize(s.outDtypes[0]);
    outer_ = numel(Shape(y.begin(), y.begin() + axis));
    for (const auto& in : s.ins) chunks_.push_back(static_cast<size_t>(numel(Shape(in.shape.begin() + axis, in.shape.end()))) * es);
    for (size_t c : chunks_) row_ += c;
  }
  void run(const KernelArgs& a) const override {
    auto* out = static_cast<uint8_t*>(a.out[0]);
    parallelFor(outer_, a.ctx->opThreads, 8, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; o++) {
        size_t off = static_cast<size_t>(o) * row_;
        for (size_t i = 0; i < chunks_.size(); i++) {
          std::memcpy(out + off, static_cast<const uint8_t*>(a.in[i]) + static_cast<size_t>(o) * chunks_[i], chunks_[i]);
          off += chunks_[i];
        }
      }
    });
  }

 private:
  int64_t outer_ = 1;
  std::vector<size_t> chunks_;
  size_t row_ = 0;
};

class SplitKernel : public OwnKernel {
 public:
  explicit SplitKernel(const OpSpec& s) : OwnKernel("split") {
    const Shape& x = s.ins[0].shape;
    int64_t axis = attrInt(s.attrs, "axis", 0, s.where());
    if (axis < 0) axis += static_cast<int64_t>(x.size());
    size_t es = dtypeSize(s.ins[0].dtype);
    outer_ = numel(Shape(x.begin(), x.begin() + axis));
    for (const auto& y : s.outShapes) chunks_.push_back(static_cast<size_t>(numel(Shape(y.begin() + axis, y.end()))) * es);
    for (size_t c : chunks_) row_ += c;
  }
  void run(const KernelArgs& a) const override {
    const auto* in = static_cast<const uint8_t*>(a.in[0]);
    parallelFor(outer_, a.ctx->opThreads, 8, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; o++) {
        size_t off = static_cast<size_t>(o) * row_;
        for (size_t i = 0; i < chunks_.size(); i++) {
          std::memcpy(static_cast<uint8_t*>(a.out[i]) + static_cast<size_t>(o) * chunks_[i], in + off, chunks_[i]);
          off += chunks_[i];
        }
      }
    });
  }

 private:
  int64_t outer_ = 1;
  std::vector<size_t> chunks_;
  size_t row_ = 0;
};

struct ScaleShift {
  std::vector<float> scale, shift;
};

/** Inference BatchNorm: y = x·scale[c] + shift[c], scale = γ/√(var+ε), shift = β − mean·scale. */
class BatchNormKernel : public OwnKernel {
 public:
  explicit BatchNormKernel(const OpSpec& s) : OwnKernel("batchnorm") {
    const Shape& x = s.ins[0].shape;
    if (x.size() < 2) unsupported(s, "input of rank < 2");
    if (attrInt(s.attrs, "training_mode", 0, s.where()) != 0) unsupported(s, "training_mode 1");
    for (size_t i = 1; i < 5; i++)
      if (!s.ins[i].data) unsupported(s, "non-constant scale/bias/mean/var (input " + std::to_string(i) + ")");
    eps_ = static_cast<float>(attrFloat(s.attrs, "epsilon", 1e-5, s.where()));
    n_ = x[0], c_ = x[1], inner_ = numel(x) / (x[0] * x[1]);
  }
  std::shared_ptr<const void> prepare(const OpSpec& s) const override {
    auto p = std::make_shared<ScaleShift>();
    const auto* g = static_cast<const float*>(s.ins[1].data);
    const auto* b = static_cast<const float*>(s.ins[2].data);
    const auto* m = static_cast<const float*>(s.ins[3].data);
    const auto* v = static_cast<const float*>(s.ins[4].data);
    for (int64_t c = 0; c < c_; c++) {
      float sc = g[c] / std::sqrt(v[c] + eps_);
      p->scale.push_back(sc);
      p->shift.push_back(b[c] - m[c] * sc);
    }
    return p;
  }
  void run(const KernelArgs& a) const override {
    const auto& p = *static_cast<const ScaleShift*>(a.consts);
    const auto* x = static_cast<const float*>(a.in[0]);
    auto* y = static_cast<float*>(a.out[0]);
    parallelFor(n_ * c_, a.ctx->opThreads, std::max<int64_t>(1, 4096 / std::max<int64_t>(inner_, 1)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; r++) {
        float sc = p.scale[static_cast<size_t>(r % c_)], sh = p.shift[static_cast<size_t>(r % c_)];
        const float* xr = x + r * inner_;
        float* yr = y + r * inner_;
        for (int64_t i = 0; i < inner_; i++) yr[i] = xr[i] * sc + sh;
      }
    });
  }

 private:
  float eps_;
  int64_t n_, c_, inner_;
};

class HardSigmoidKernel : public OwnKernel {
 public:
  explicit HardSigmoidKernel(const OpSpec& s) : OwnKernel("hardsigmoid"), n_(numel(s.ins[0].shape)) {
    alpha_ = static_cast<float>(attrFloat(s.attrs, "alpha", 0.2, s.where()));
    beta_ = static_cast<float>(attrFloat(s.attrs, "beta", 0.5, s.where()));
  }
  void run(const KernelArgs& a) const override {
    const auto* x = static_cast<const float*>(a.in[0]);
    auto* y = static_cast<float*>(a.out[0]);
    parallelFor(n_, a.ctx->opThreads, 16384, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; i++) y[i] = std::fmin(1.0f, std::fmax(0.0f, alpha_ * x[i] + beta_));
    });
  }

 private:
  int64_t n_;
  float alpha_, beta_;
};

/**
 * Strided walk over an output shape: for each output row (all dims but the last) calls
 * f(row, inOffsets...) with each input's element offset of the row start. Inputs carry strides
 * (0 on broadcast dims) so one walker serves broadcast binaries, Expand and Transpose.
 */
template <size_t K, typename F>
void walkRows(const Shape& out, const std::array<Shape, K>& strides, int nthr, const F& f) {
  size_t r = out.size();
  int64_t inner = r ? out[r - 1] : 1;
  int64_t rows = inner ? numel(out) / inner : 0;
  parallelFor(rows, nthr, std::max<int64_t>(1, 8192 / std::max<int64_t>(inner, 1)), [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e; row++) {
      std::array<int64_t, K> off{};
      int64_t rem = row;
      for (size_t d = r - 1; d-- > 0;) {
        int64_t idx = rem % out[d];
        rem /= out[d];
        for (size_t k = 0; k < K; k++) off[k] += idx * strides[k][d];
      }
      f(row * inner, off, inner);
    }
  });
}

class BroadcastBinaryKernel : public OwnKernel {
 public:
  explicit BroadcastBinaryKernel(const OpSpec& s) : OwnKernel("binary"), y_(s.outShapes[0]) {
    requireF32(s);
    op_ = s.op == "Add" ? 0 : s.op == "Sub" ? 1 : s.op == "Mul" ? 2 : 3;
    st_ = {broadcastStrides(s.ins[0].shape, y_), broadcastStrides(s.ins[1].shape, y_)};
    if (y_.empty()) y_ = {1}, st_ = {Shape{1}, Shape{1}};
  }
  void run(const KernelArgs& a) const override {
    const auto* x0 = static_cast<const float*>(a.in[0]);
    const auto* x1 = static_cast<const float*>(a.in[1]);
    auto* y = static_cast<float*>(a.out[0]);
    int64_t s0 = st_[0].back(), s1 = st_[1].back();
    walkRows<2>(y_, st_, a.ctx->opThreads, [&](int64_t o, const std::array<int64_t, 2>& off, int64_t n) {
      const float* p = x0 + off[0];
      const float* q = x1 + off[1];
      float* d = y + o;
      switch (op_) {
        case 0:
          for (int64_t i = 0; i < n; i++) d[i] = p[i * s0] + q[i * s1];
          break;
        case 1:
          for (int64_t i = 0; i < n; i++) d[i] = p[i * s0] - q[i * s1];
          break;
        case 2:
          for (int64_t i = 0; i < n; i++) d[i] = p[i * s0] * q[i * s1];
          break;
        default:
          for (int64_t i = 0; i < n; i++) d[i] = p[i * s0] / q[i * s1];
      }
    });
  }

 private:
  Shape y_;
  std::array<Shape, 2> st_;
  int op_;
};

/** Expand and Transpose: out[i] = in[strided offset], any element size. */
class StridedCopyKernel : public OwnKernel {
 public:
  StridedCopyKernel(const char* name, Shape out, Shape inStrides, size_t es) : OwnKernel(name), y_(std::move(out)), st_{std::move(inStrides)}, es_(es) {
    if (y_.empty()) y_ = {1}, st_ = {Shape{1}};
  }
  void run(const KernelArgs& a) const override {
    const auto* x = static_cast<const uint8_t*>(a.in[0]);
    auto* y = static_cast<uint8_t*>(a.out[0]);
    int64_t s = st_[0].back();
    walkRows<1>(y_, st_, a.ctx->opThreads, [&](int64_t o, const std::array<int64_t, 1>& off, int64_t n) {
      if (es_ == 4) {
        const auto* p = reinterpret_cast<const uint32_t*>(x) + off[0];
        auto* d = reinterpret_cast<uint32_t*>(y) + o;
        for (int64_t i = 0; i < n; i++) d[i] = p[i * s];
      } else {
        const auto* p = reinterpret_cast<const uint64_t*>(x) + off[0];
        auto* d = reinterpret_cast<uint64_t*>(y) + o;
        for (int64_t i = 0; i < n; i++) d[i] = p[i * s];
      }
    });
  }

 private:
  Shape y_;
  std::array<Shape, 1> st_;
  size_t es_;
};

}  // namespace

KernelPtr makeCopy(const OpSpec& s) { return std::make_shared<CopyKernel>(static_cast<size_t>(numel(s.ins[0].shape)) * dtypeSize(s.ins[0].dtype)); }
KernelPtr makeConcat(const OpSpec& s) { return std::make_shared<ConcatKernel>(s); }
KernelPtr makeSplit(const OpSpec& s) { return std::make_shared<SplitKernel>(s); }
KernelPtr makeBatchNorm(const OpSpec& s) {
  requireF32(s);
  return std::make_shared<BatchNormKernel>(s);
}
KernelPtr makeHardSigmoid(const OpSpec& s) {
  requireF32(s);
  return std::make_shared<HardSigmoidKernel>(s);
}
KernelPtr makeBroadcastBinary(const OpSpec& s) { return std::make_shared<BroadcastBinaryKernel>(s); }
KernelPtr makeExpand(const OpSpec& s) {
  const Shape& y = s.outShapes[0];
  return std::make_shared<StridedCopyKernel>("expand", y, broadcastStrides(s.ins[0].shape, y), dtypeSize(s.ins[0].dtype));
}
KernelPtr makeTranspose(const OpSpec& s) {
  const Shape& x = s.ins[0].shape;
  size_t r = x.size();
  auto p = attrInts(s.attrs, "perm", {}, s.where());
  Shape in = rowStrides(x), st(r);
  for (size_t i = 0; i < r; i++) st[i] = in[static_cast<size_t>(p.empty() ? static_cast<int64_t>(r - 1 - i) : p[i])];
  return std::make_shared<StridedCopyKernel>("transpose", s.outShapes[0], st, dtypeSize(s.ins[0].dtype));
}

}  // namespace ts::cpu
