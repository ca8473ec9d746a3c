// Hand-written kernels: copies (Reshape/Flatten/Identity), Concat, Split, BatchNorm (folded to a
// per-channel scale and shift), HardSigmoid, broadcasting binary ops, Expand and generic Transpose.
#include <algorithm>
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

/**
 * Rows of [outer, axis·inner] blocks: Concat copies each input's block into its column range, Split
 * the reverse. The threads split the joined tensor's bytes evenly (not its rows: at batch 1 along
 * channels there is one row), each taking whole pieces of 64 KiB.
 */
class RowChunks {
 public:
  RowChunks(const Shape& joined, const std::vector<Shape>& parts, int64_t axis, size_t elem) {
    outer_ = static_cast<size_t>(numel(Shape(joined.begin(), joined.begin() + axis)));
    for (const auto& p : parts) chunks_.push_back(static_cast<size_t>(numel(Shape(p.begin() + axis, p.end()))) * elem);
    for (size_t c : chunks_) row_ += c;
  }
  /** f(part, joinedOffset, partOffset, bytes) over every piece of the joined tensor, split over threads. */
  template <typename F>
  void forEachPiece(int threads, const F& f) const {
    constexpr size_t kPiece = 64 << 10;
    const size_t total = outer_ * row_;
    parallelFor(static_cast<int64_t>((total + kPiece - 1) / kPiece), threads, 1, [&](int64_t b, int64_t e) {
      size_t pos = static_cast<size_t>(b) * kPiece;
      const size_t end = std::min(total, static_cast<size_t>(e) * kPiece);
      size_t o = pos / row_, off = pos % row_, i = 0, start = 0;
      while (off >= start + chunks_[i]) start += chunks_[i++];
      while (pos < end) {
        const size_t within = off - start;
        const size_t len = std::min(chunks_[i] - within, end - pos);
        f(i, pos, o * chunks_[i] + within, len);
        pos += len;
        off += len;
        // Next part (skipping empty ones), or the next row.
        while (i < chunks_.size() && off == start + chunks_[i]) start += chunks_[i++];
        if (i == chunks_.size()) i = 0, start = 0, off = 0, o++;
      }
    });
  }

 private:
  size_t outer_ = 1, row_ = 0;
  std::vector<size_t> chunks_;
};

int64_t axisOf(const OpSpec& s, size_t rank) {
  int64_t axis = attrInt(s.attrs, "axis", 0, s.where());
  return axis < 0 ? axis + static_cast<int64_t>(rank) : axis;
}

std::vector<Shape> inShapes(const OpSpec& s) {
  std::vector<Shape> v;
  for (const auto& in : s.ins) v.push_back(in.shape);
  return v;
}

class ConcatKernel : public OwnKernel {
 public:
  explicit ConcatKernel(const OpSpec& s)
      : OwnKernel("concat"), rows_(s.outShapes[0], inShapes(s), axisOf(s, s.outShapes[0].size()), dtypeSize(s.outDtypes[0])) {}
  void run(const KernelArgs& a) const override {
    auto* out = static_cast<uint8_t*>(a.out[0]);
    rows_.forEachPiece(a.ctx->opThreads, [&](size_t i, size_t at, size_t from, size_t n) { std::memcpy(out + at, static_cast<const uint8_t*>(a.in[i]) + from, n); });
  }

 private:
  RowChunks rows_;
};

class SplitKernel : public OwnKernel {
 public:
  explicit SplitKernel(const OpSpec& s) : OwnKernel("split"), rows_(s.ins[0].shape, s.outShapes, axisOf(s, s.ins[0].shape.size()), dtypeSize(s.ins[0].dtype)) {}
  void run(const KernelArgs& a) const override {
    const auto* in = static_cast<const uint8_t*>(a.in[0]);
    rows_.forEachPiece(a.ctx->opThreads, [&](size_t i, size_t at, size_t to, size_t n) { std::memcpy(static_cast<uint8_t*>(a.out[i]) + to, in + at, n); });
  }

 private:
  RowChunks rows_;
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

/** Unary ops oneDNN has no eltwise for with ONNX semantics: HardSigmoid (alpha, beta), Erf. */
class OwnUnaryKernel : public OwnKernel {
 public:
  explicit OwnUnaryKernel(const OpSpec& s) : OwnKernel(s.op == "Erf" ? "erf" : "hardsigmoid"), n_(numel(s.ins[0].shape)), erf_(s.op == "Erf") {
    alpha_ = static_cast<float>(attrFloat(s.attrs, "alpha", 0.2, s.where()));
    beta_ = static_cast<float>(attrFloat(s.attrs, "beta", 0.5, s.where()));
  }
  void run(const KernelArgs& a) const override {
    const auto* x = static_cast<const float*>(a.in[0]);
    auto* y = static_cast<float*>(a.out[0]);
    parallelFor(n_, a.ctx->opThreads, 16384, [&](int64_t b, int64_t e) {
      if (erf_)
        for (int64_t i = b; i < e; i++) y[i] = std::erf(x[i]);
      else
        for (int64_t i = b; i < e; i++) y[i] = std::fmin(1.0f, std::fmax(0.0f, alpha_ * x[i] + beta_));
    });
  }

 private:
  int64_t n_;
  bool erf_;
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
    static const char* const kOps[] = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "PRelu"};
    op_ = -1;
    for (int i = 0; i < 8; i++)
      if (s.op == kOps[i]) op_ = i;
    if (op_ < 0) unsupported(s, "not a binary op");
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
        case 3:
          for (int64_t i = 0; i < n; i++) d[i] = p[i * s0] / q[i * s1];
          break;
        case 4:
          for (int64_t i = 0; i < n; i++) d[i] = std::pow(p[i * s0], q[i * s1]);
          break;
        case 5:  // NaN propagates, as in onnxruntime
          for (int64_t i = 0; i < n; i++) d[i] = std::isnan(p[i * s0]) ? p[i * s0] : p[i * s0] < q[i * s1] || std::isnan(q[i * s1]) ? q[i * s1] : p[i * s0];
          break;
        case 6:
          for (int64_t i = 0; i < n; i++) d[i] = std::isnan(p[i * s0]) ? p[i * s0] : p[i * s0] > q[i * s1] || std::isnan(q[i * s1]) ? q[i * s1] : p[i * s0];
          break;
        default:
          for (int64_t i = 0; i < n; i++) d[i] = p[i * s0] < 0 ? p[i * s0] * q[i * s1] : p[i * s0];
      }
    });
  }

 private:
  Shape y_;
  std::array<Shape, 2> st_;
  int op_;
};

/** Expand, Transpose and Slice: out[i] = in[base + strided offset], any element size. */
class StridedCopyKernel : public OwnKernel {
 public:
  StridedCopyKernel(const char* name, Shape out, Shape inStrides, size_t es, int64_t base = 0)
      : OwnKernel(name), y_(std::move(out)), st_{std::move(inStrides)}, es_(es), base_(base) {
    if (y_.empty()) y_ = {1}, st_ = {Shape{1}};
  }
  void run(const KernelArgs& a) const override {
    const auto* x = static_cast<const uint8_t*>(a.in[0]) + base_ * static_cast<int64_t>(es_);
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
  int64_t base_;
};

/** InstanceNormalization: per (n, c) mean and variance over the spatial dims, then scale and shift. */
class InstanceNormKernel : public OwnKernel {
 public:
  explicit InstanceNormKernel(const OpSpec& s) : OwnKernel("instancenorm") {
    const Shape& x = s.ins[0].shape;
    if (x.size() < 3) unsupported(s, "input of rank < 3");
    eps_ = attrFloat(s.attrs, "epsilon", 1e-5, s.where());
    rows_ = x[0] * x[1], c_ = x[1], inner_ = numel(x) / rows_;
  }
  void run(const KernelArgs& a) const override {
    const auto* x = static_cast<const float*>(a.in[0]);
    const auto* g = static_cast<const float*>(a.in[1]);
    const auto* b = static_cast<const float*>(a.in[2]);
    auto* y = static_cast<float*>(a.out[0]);
    parallelFor(rows_, a.ctx->opThreads, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; r++) {
        const float* xr = x + r * inner_;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < inner_; i++) mean += xr[i];
        mean /= static_cast<double>(inner_);
        for (int64_t i = 0; i < inner_; i++) var += (xr[i] - mean) * (xr[i] - mean);
        var /= static_cast<double>(inner_);
        int64_t c = r % c_;
        float sc = static_cast<float>(g[c] / std::sqrt(var + eps_)), sh = static_cast<float>(b[c] - mean * sc);
        float* yr = y + r * inner_;
        for (int64_t i = 0; i < inner_; i++) yr[i] = xr[i] * sc + sh;
      }
    });
  }

 private:
  double eps_;
  int64_t rows_, c_, inner_;
};

}  // namespace

KernelPtr makeCopy(const OpSpec& s) { return std::make_shared<CopyKernel>(static_cast<size_t>(numel(s.ins[0].shape)) * dtypeSize(s.ins[0].dtype)); }
KernelPtr makeConcat(const OpSpec& s) { return std::make_shared<ConcatKernel>(s); }
KernelPtr makeSplit(const OpSpec& s) { return std::make_shared<SplitKernel>(s); }
KernelPtr makeBatchNorm(const OpSpec& s) {
  requireF32(s);
  return std::make_shared<BatchNormKernel>(s);
}
KernelPtr makeOwnUnary(const OpSpec& s) {
  requireF32(s);
  return std::make_shared<OwnUnaryKernel>(s);
}
KernelPtr makeInstanceNorm(const OpSpec& s) {
  requireF32(s);
  return std::make_shared<InstanceNormKernel>(s);
}
KernelPtr makeSlice(const OpSpec& s) {
  const Shape& x = s.ins[0].shape;
  const std::string w = s.where();
  auto starts = attrInts(s.attrs, "starts", {}, w), axes = attrInts(s.attrs, "axes", {}, w), steps = attrInts(s.attrs, "steps", {}, w);
  if (axes.size() != starts.size() || steps.size() != starts.size()) unsupported(s, "starts, axes and steps differ in length");
  Shape in = rowStrides(x), st = in;
  int64_t base = 0;
  for (size_t i = 0; i < axes.size(); i++) {
    size_t ax = static_cast<size_t>(axes[i] < 0 ? axes[i] + static_cast<int64_t>(x.size()) : axes[i]);
    if (ax >= x.size() || steps[i] == 0) unsupported(s, "axis out of range or step 0");
    // ONNX's clamping of the first index (as sliceAxis in graphs/ops.ts); the count is the output dim.
    int64_t dim = x[ax], st0 = starts[i] < 0 ? starts[i] + dim : starts[i];
    st0 = steps[i] > 0 ? std::clamp<int64_t>(st0, 0, dim) : std::clamp<int64_t>(st0, -1, dim - 1);
    if (s.outShapes[0][ax] > 0 && (st0 < 0 || st0 >= dim)) unsupported(s, "slice range outside the input");
    base += st0 * in[ax];
    st[ax] = in[ax] * steps[i];
  }
  return std::make_shared<StridedCopyKernel>("slice", s.outShapes[0], st, dtypeSize(s.ins[0].dtype), base);
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
