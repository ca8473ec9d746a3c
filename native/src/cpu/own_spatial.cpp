// Hand-written kernels with index arithmetic: Pad (constant), Gather, Resize (ONNX coordinate
// rules), a reference pooling for the one case oneDNN's window rule differs from ONNX's, MaxPool
// between channel-blocked tensors and GlobalAveragePool of plain ones.
#include <cfloat>
#include <cmath>
#include <cstring>

#include "../resize_coords.hpp"
#include "kernels.hpp"
#include "own_util.hpp"

namespace ts::cpu {

namespace {

/** Constant pad with possibly negative pads (crop): each output row is value | input slice | value. */
/** Pad with mode reflect or edge: every output index reads one input index per dim (tables). */
class IndexPadKernel : public OwnKernel {
 public:
  explicit IndexPadKernel(const OpSpec& s) : OwnKernel("pad-index"), y_(s.outShapes[0]), es_(dtypeSize(s.ins[0].dtype)) {
    const std::string w = s.where();
    const Shape& x = s.ins[0].shape;
    bool reflect = attrStr(s.attrs, "mode", "constant", w) == "reflect";
    auto pads = attrInts(s.attrs, "pads", {}, w);
    if (x.empty() || pads.size() != 2 * x.size()) unsupported(s, "pads do not match the rank");
    Shape xs = rowStrides(x);
    for (size_t d = 0; d < x.size(); d++) {
      std::vector<int64_t> t(static_cast<size_t>(y_[d]));
      for (int64_t o = 0; o < y_[d]; o++) {
        int64_t i = o - pads[d], n = x[d];
        int64_t src = reflect ? (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i) : std::min<int64_t>(n - 1, std::max<int64_t>(0, i));
        if (src < 0 || src >= n) unsupported(s, "reflect pads as large as the input dim");
        t[static_cast<size_t>(o)] = src * xs[d];
      }
      tables_.push_back(std::move(t));
    }
  }
  void run(const KernelArgs& a) const override {
    const auto* x = static_cast<const uint8_t*>(a.in[0]);
    auto* y = static_cast<uint8_t*>(a.out[0]);
    size_t r = y_.size();
    int64_t inner = y_[r - 1], rows = numel(y_) / std::max<int64_t>(inner, 1);
    const auto& last = tables_[r - 1];
    parallelFor(rows, a.ctx->opThreads, 64, [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; row++) {
        int64_t rem = row, off = 0;
        for (size_t d = r - 1; d-- > 0;) {
          off += tables_[d][static_cast<size_t>(rem % y_[d])];
          rem /= y_[d];
        }
        uint8_t* out = y + static_cast<size_t>(row * inner) * es_;
        for (int64_t c = 0; c < inner; c++) std::memcpy(out + static_cast<size_t>(c) * es_, x + static_cast<size_t>(off + last[static_cast<size_t>(c)]) * es_, es_);
      }
    });
  }

 private:
  Shape y_;
  size_t es_;
  std::vector<std::vector<int64_t>> tables_;
};

class PadKernel : public OwnKernel {
 public:
  explicit PadKernel(const OpSpec& s) : OwnKernel("pad"), x_(s.ins[0].shape), y_(s.outShapes[0]), es_(dtypeSize(s.ins[0].dtype)) {
    const std::string w = s.where();
    if (attrStr(s.attrs, "mode", "constant", w) != "constant") unsupported(s, "mode '" + attrStr(s.attrs, "mode", "", w) + "' (constant only)");
    pads_ = attrInts(s.attrs, "pads", {}, w);
    if (pads_.size() != 2 * x_.size()) unsupported(s, "pads do not match the rank");
    double v = attrFloat(s.attrs, "value", 0.0, w);
    if (es_ == 4) {
      float f = static_cast<float>(v);
      std::memcpy(&value_, &f, 4);
    } else {
      int64_t i = static_cast<int64_t>(v);
      std::memcpy(&value_, &i, 8);
    }
    if (x_.empty()) unsupported(s, "rank-0 input");
  }
  void run(const KernelArgs& a) const override {
    const auto* x = static_cast<const uint8_t*>(a.in[0]);
    auto* y = static_cast<uint8_t*>(a.out[0]);
    size_t r = x_.size();
    int64_t inner = y_[r - 1], rows = numel(y_) / std::max<int64_t>(inner, 1);
    Shape xs = rowStrides(x_);
    int64_t pb = pads_[r - 1];
    // Columns of the output row that come from the input.
    int64_t c0 = std::max<int64_t>(0, pb), c1 = std::min<int64_t>(inner, pb + x_[r - 1]);
    parallelFor(rows, a.ctx->opThreads, 64, [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; row++) {
        uint8_t* out = y + static_cast<size_t>(row * inner) * es_;
        int64_t rem = row, off = 0;
        bool inside = true;
        for (size_t d = r - 1; d-- > 0;) {
          int64_t idx = rem % y_[d] - pads_[d];
          rem /= y_[d];
          if (idx < 0 || idx >= x_[d]) inside = false;
          off += idx * xs[d];
        }
        int64_t lo = inside ? c0 : inner, hi = inside ? c1 : inner;
        if (lo > hi) lo = hi = inner;
        fill(out, 0, lo);
        if (hi > lo) std::memcpy(out + static_cast<size_t>(lo) * es_, x + static_cast<size_t>(off + lo - pb) * es_, static_cast<size_t>(hi - lo) * es_);
        fill(out, hi, inner);
      }
    });
  }

 private:
  void fill(uint8_t* row, int64_t from, int64_t to) const {
    for (int64_t i = from; i < to; i++) std::memcpy(row + static_cast<size_t>(i) * es_, &value_, es_);
  }
  Shape x_, y_;
  std::vector<int64_t> pads_;
  size_t es_;
  uint64_t value_ = 0;
};

/** out[o, i, :] = data[o, idx[i], :] over (outer = dims before axis, inner = dims after). */
class GatherKernel : public OwnKernel {
 public:
  explicit GatherKernel(const OpSpec& s) : OwnKernel("gather") {
    const Shape& d = s.ins[0].shape;
    if (s.ins[1].dtype != DType::I64) unsupported(s, "indices must be int64");
    int64_t axis = attrInt(s.attrs, "axis", 0, s.where());
    if (axis < 0) axis += static_cast<int64_t>(d.size());
    outer_ = numel(Shape(d.begin(), d.begin() + axis));
    dim_ = d[static_cast<size_t>(axis)];
    rowBytes_ = static_cast<size_t>(numel(Shape(d.begin() + axis + 1, d.end()))) * dtypeSize(s.ins[0].dtype);
    nIdx_ = numel(s.ins[1].shape);
  }
  void run(const KernelArgs& a) const override {
    const auto* data = static_cast<const uint8_t*>(a.in[0]);
    const auto* idx = static_cast<const int64_t*>(a.in[1]);
    auto* y = static_cast<uint8_t*>(a.out[0]);
    for (int64_t i = 0; i < nIdx_; i++)
      if (idx[i] < -dim_ || idx[i] >= dim_) throw Error("index " + std::to_string(idx[i]) + " out of range [" + std::to_string(-dim_) + ", " + std::to_string(dim_) + ")");
    parallelFor(outer_ * nIdx_, a.ctx->opThreads, 64, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; k++) {
        int64_t o = k / nIdx_, i = k % nIdx_;
        int64_t j = idx[i] < 0 ? idx[i] + dim_ : idx[i];
        std::memcpy(y + static_cast<size_t>(k) * rowBytes_, data + static_cast<size_t>(o * dim_ + j) * rowBytes_, rowBytes_);
      }
    });
  }

 private:
  int64_t outer_, dim_, nIdx_;
  size_t rowBytes_;
};

/** Resize: tables from resizeTables (resize_coords.hpp); nearest any rank, linear the last two dims. */
class ResizeKernel : public OwnKernel {
 public:
  explicit ResizeKernel(const OpSpec& s) : OwnKernel("resize"), x_(s.ins[0].shape), y_(s.outShapes[0]) {
    requireF32(s);
    ResizeTables t = resizeTables(s, unsupported);
    linear_ = t.linear;
    lo_ = std::move(t.lo);
    hi_ = std::move(t.hi);
    frac_ = std::move(t.frac);
  }
  void run(const KernelArgs& a) const override {
    const auto* x = static_cast<const float*>(a.in[0]);
    auto* y = static_cast<float*>(a.out[0]);
    size_t r = x_.size();
    Shape xs = rowStrides(x_);
    int64_t inner = y_[r - 1], rows = numel(y_) / std::max<int64_t>(inner, 1);
    const auto& li = lo_[r - 1];
    const auto& hi = hi_[r - 1];
    const auto& fi = frac_[r - 1];
    parallelFor(rows, a.ctx->opThreads, 16, [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; row++) {
        float* out = y + row * inner;
        int64_t rem = row, off = 0, offB = 0;
        float fr = 0;
        for (size_t d = r - 1; d-- > 0;) {
          auto o = static_cast<size_t>(rem % y_[d]);
          rem /= y_[d];
          off += lo_[d][o] * xs[d];
          if (linear_ && d == r - 2) {
            offB = (hi_[d][o] - lo_[d][o]) * xs[d];
            fr = frac_[d][o];
          }
        }
        const float* p = x + off;
        if (!linear_) {
          for (int64_t i = 0; i < inner; i++) out[i] = p[li[static_cast<size_t>(i)]];
          continue;
        }
        const float* q = p + offB;
        for (int64_t i = 0; i < inner; i++) {
          auto k = static_cast<size_t>(i);
          float top = p[li[k]] + fi[k] * (p[hi[k]] - p[li[k]]);
          float bot = q[li[k]] + fi[k] * (q[hi[k]] - q[li[k]]);
          out[i] = top + fr * (bot - top);
        }
      }
    });
  }

 private:
  Shape x_, y_;
  bool linear_ = false;
  std::vector<std::vector<int64_t>> lo_, hi_;
  std::vector<std::vector<float>> frac_;
};

/**
 * Reference 2-D pooling with ONNX/onnxruntime window rules: a window covers [start, start + k·d)
 * clipped to [−pad_begin, in + pad_end); max ignores padding; average divides by the clipped window
 * (count_include_pad) or by the in-input part.
 */
class RefPoolKernel : public OwnKernel {
 public:
  explicit RefPoolKernel(const OpSpec& s) : OwnKernel("pool"), x_(s.ins[0].shape), y_(s.outShapes[0]) {
    requireF32(s);
    const std::string w = s.where();
    k_ = attrInts(s.attrs, "kernel_shape", {}, w);
    st_ = attrInts(s.attrs, "strides", {1, 1}, w);
    dl_ = attrInts(s.attrs, "dilations", {1, 1}, w);
    pd_ = attrInts(s.attrs, "pads", {0, 0, 0, 0}, w);
    isMax_ = s.op == "MaxPool";
    countPad_ = attrInt(s.attrs, "count_include_pad", 0, w) != 0;
  }
  void run(const KernelArgs& a) const override {
    const auto* x = static_cast<const float*>(a.in[0]);
    auto* y = static_cast<float*>(a.out[0]);
    int64_t H = x_[2], W = x_[3], OH = y_[2], OW = y_[3];
    parallelFor(x_[0] * x_[1], a.ctx->opThreads, 1, [&](int64_t b, int64_t e) {
      for (int64_t nc = b; nc < e; nc++) {
        const float* xp = x + nc * H * W;
        float* yp = y + nc * OH * OW;
        for (int64_t oh = 0; oh < OH; oh++)
          for (int64_t ow = 0; ow < OW; ow++) {
            int64_t h0 = oh * st_[0] - pd_[0], w0 = ow * st_[1] - pd_[1];
            int64_t hEnd = std::min(h0 + (k_[0] - 1) * dl_[0] + 1, H + pd_[2]), wEnd = std::min(w0 + (k_[1] - 1) * dl_[1] + 1, W + pd_[3]);
            float acc = isMax_ ? -FLT_MAX : 0.f;
            int64_t inCount = 0, padCount = 0;
            for (int64_t h = h0; h < hEnd; h += dl_[0])
              for (int64_t ww = w0; ww < wEnd; ww += dl_[1]) {
                padCount++;
                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                float v = xp[h * W + ww];
                acc = isMax_ ? std::max(acc, v) : acc + v;
                inCount++;
              }
            if (!isMax_) acc /= static_cast<float>(std::max<int64_t>(1, countPad_ ? padCount : inCount));
            yp[oh * OW + ow] = acc;
          }
      }
    });
  }

 private:
  Shape x_, y_;
  std::vector<int64_t> k_, st_, dl_, pd_;
  bool isMax_ = false, countPad_ = false;
};

/** A 2-D window: kernel, strides, dilations and top/left pads, per axis (H, W). */
struct Window2d {
  int64_t kh, kw, sh, sw, dh, dw, pt, pl;
};

// GCC vectors of a channel block.
typedef float Vec16 __attribute__((vector_size(16 * sizeof(float))));
typedef float Vec8 __attribute__((vector_size(8 * sizeof(float))));
template <int B>
struct BlockVec;
template <>
struct BlockVec<16> {
  using type = Vec16;
};
template <>
struct BlockVec<8> {
  using type = Vec8;
};

/** One output row (n, channel block, oh) of a max pool between nChw{B}c tensors: every output
 *  pixel is the lane-wise max of B-float vectors over its window's valid pixels. */
template <int B>
inline __attribute__((always_inline)) void maxPoolRow(const float* x, float* y, int64_t H, int64_t W, int64_t OW, int64_t oh, const Window2d& k) {
  using V = typename BlockVec<B>::type;
  // The window's valid rows, and the outputs whose whole window lies inside the row (no checks).
  const int64_t h0 = oh * k.sh - k.pt;
  int64_t iLo = 0, iHi = k.kh;
  while (iLo < iHi && h0 + iLo * k.dh < 0) iLo++;
  while (iHi > iLo && h0 + (iHi - 1) * k.dh >= H) iHi--;
  const int64_t span = (k.kw - 1) * k.dw;
  for (int64_t ow = 0; ow < OW; ow++) {
    const int64_t w0 = ow * k.sw - k.pl;
    // The compare and select become one vector max, treating NaN and ±0 as std::max(acc, p) does.
    V acc = V{} - FLT_MAX;
    if (w0 >= 0 && w0 + span < W) {
      for (int64_t i = iLo; i < iHi; i++) {
        const float* p = x + ((h0 + i * k.dh) * W + w0) * B;
        for (int64_t j = 0; j < k.kw; j++) {
          V v;
          std::memcpy(&v, p + j * k.dw * B, sizeof v);
          acc = v > acc ? v : acc;
        }
      }
    } else {
      for (int64_t i = iLo; i < iHi; i++) {
        const float* row = x + (h0 + i * k.dh) * W * B;
        for (int64_t j = 0; j < k.kw; j++) {
          const int64_t w = w0 + j * k.dw;
          if (w < 0 || w >= W) continue;
          V v;
          std::memcpy(&v, row + w * B, sizeof v);
          acc = v > acc ? v : acc;
        }
      }
    }
    std::memcpy(y + ow * B, &acc, sizeof acc);
  }
}

// Built for the CPU's vector width at load time (GCC function clones): the addon itself is
// compiled for baseline x86-64, where a 16-float lane loop is four SSE operations.
__attribute__((target_clones("avx512f", "avx2", "default"))) void maxPoolRows16(const float* x, float* y, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                                                                 int64_t first, int64_t last, const Window2d& k) {
  for (int64_t r = first; r < last; r++) maxPoolRow<16>(x + (r / OH) * H * W * 16, y + r * OW * 16, H, W, OW, r % OH, k);
}
__attribute__((target_clones("avx512f", "avx2", "default"))) void maxPoolRows8(const float* x, float* y, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                                                                int64_t first, int64_t last, const Window2d& k) {
  for (int64_t r = first; r < last; r++) maxPoolRow<8>(x + (r / OH) * H * W * 8, y + r * OW * 8, H, W, OW, r % OH, k);
}

/**
 * MaxPool with input and output in one channel-blocked layout (nChw16c / nChw8c, C a multiple of
 * the block: layout.hpp). oneDNN 2.6's jit pooling took 1.4–1.8× onnxruntime's NCHWc MaxPool on
 * Inception-v3 and SqueezeNet 1.1 (2-core EPYC, one and two threads).
 */
class BlockedMaxPoolKernel : public OwnKernel {
 public:
  BlockedMaxPoolKernel(const OpSpec& s, int block, const Window2d& k) : OwnKernel("maxpool-blocked"), block_(block), k_(k) {
    const Shape& x = s.ins[0].shape;
    const Shape& y = s.outShapes[0];
    H_ = x[2], W_ = x[3], OH_ = y[2], OW_ = y[3];
    rows_ = x[0] * (x[1] / block) * OH_;
  }
  void run(const KernelArgs& a) const override {
    const auto* x = static_cast<const float*>(a.in[0]);
    auto* y = static_cast<float*>(a.out[0]);
    // Rows of at least ~16 K outputs per thread: a small map is not worth a team.
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, OW_ * block_));
    parallelFor(rows_, a.ctx->opThreads, grain, [&](int64_t b, int64_t e) {
      if (block_ == 16) maxPoolRows16(x, y, H_, W_, OH_, OW_, b, e, k_);
      else maxPoolRows8(x, y, H_, W_, OH_, OW_, b, e, k_);
    });
  }

 private:
  int block_;
  Window2d k_;
  int64_t H_ = 0, W_ = 0, OH_ = 0, OW_ = 0, rows_ = 0;
};

/** Mean of each of `count` contiguous rows of n floats, 16 lanes at a time (then the rest). */
__attribute__((target_clones("avx512f", "avx2", "default"))) void rowMeans(const float* x, float* y, int64_t n, int64_t first, int64_t last) {
  for (int64_t r = first; r < last; r++) {
    const float* p = x + r * n;
    Vec16 acc = Vec16{};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      Vec16 v;
      std::memcpy(&v, p + i, sizeof v);
      acc += v;
    }
    float sum = 0.f;
    for (int c = 0; c < 16; c++) sum += acc[c];
    for (; i < n; i++) sum += p[i];
    y[r] = sum / static_cast<float>(n);
  }
}

/**
 * GlobalAveragePool of a plain NCHW tensor into a plain output: a mean per (n, c) over H·W
 * contiguous floats. oneDNN pools plain tensors only through a reorder into a blocked copy
 * (SqueezeNet's 1000-channel classifier map: 0.4 ms of reorders at batch 8).
 */
class PlainGlobalAvgPoolKernel : public OwnKernel {
 public:
  explicit PlainGlobalAvgPoolKernel(const OpSpec& s) : OwnKernel("gap-plain") {
    const Shape& x = s.ins[0].shape;
    rows_ = x[0] * x[1];
    n_ = x[2] * x[3];
  }
  void run(const KernelArgs& a) const override {
    const auto* x = static_cast<const float*>(a.in[0]);
    auto* y = static_cast<float*>(a.out[0]);
    parallelFor(rows_, a.ctx->opThreads, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, n_)), [&](int64_t b, int64_t e) { rowMeans(x, y, n_, b, e); });
  }

 private:
  int64_t rows_ = 0, n_ = 0;
};

}  // namespace

KernelPtr makePlainGlobalAvgPool(const OpSpec& s) {
  if (s.op != "GlobalAveragePool" || s.inLayoutOf(0) != Layout::Plain || s.outLayoutOf(0) != Layout::Plain) return nullptr;
  if (s.ins[0].shape.size() != 4 || s.ins[0].dtype != DType::F32 || s.ins[0].shape[2] * s.ins[0].shape[3] == 0) return nullptr;
  return std::make_shared<PlainGlobalAvgPoolKernel>(s);
}

KernelPtr makeBlockedMaxPool(const OpSpec& s) {
  const int layout = s.inLayoutOf(0);
  if (s.op != "MaxPool" || (layout != Layout::Blocked16 && layout != Layout::Blocked8) || s.outLayoutOf(0) != layout || s.outShapes.size() != 1) return nullptr;
  const Shape& x = s.ins[0].shape;
  if (x.size() != 4 || x[1] % layout != 0 || s.ins[0].dtype != DType::F32) return nullptr;
  PoolWindow win;
  if (!poolWindow(s, win)) return nullptr;
  const auto& k = win.kernel;
  return std::make_shared<BlockedMaxPoolKernel>(
      s, layout, Window2d{k[0], k[1], win.strides[0], win.strides[1], win.dil[0] + 1, win.dil[1] + 1, win.padL[0], win.padL[1]});
}

KernelPtr makePad(const OpSpec& s) {
  std::string mode = attrStr(s.attrs, "mode", "constant", s.where());
  if (mode == "reflect" || mode == "edge") return std::make_shared<IndexPadKernel>(s);
  return std::make_shared<PadKernel>(s);
}
KernelPtr makeGather(const OpSpec& s) { return std::make_shared<GatherKernel>(s); }
KernelPtr makeResize(const OpSpec& s) { return std::make_shared<ResizeKernel>(s); }
KernelPtr makeRefPool(const OpSpec& s) { return std::make_shared<RefPoolKernel>(s); }

}  // namespace ts::cpu
