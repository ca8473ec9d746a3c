// Launchers of the hand-written CUDA kernels (k_*.cu). Plain structs and pointers only, so nvcc
// compiles the device code without the JSON/Node headers and the host-side kernel classes
// (ops_*.cpp) are ordinary C++. Every launcher enqueues on `s` and returns at once; launch errors
// are collected by CudaContext::finish. Semantics follow the CPU backend's kernels (cpu/*), which
// are the spec: the comments name the CPU kernel each one mirrors.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace ts::cuda {

constexpr int kMaxRank = 8;

/** An output shape and, per operand, the element stride of each output dim (0 = broadcast). */
struct Strided {
  int rank = 0;
  int64_t shape[kMaxRank] = {};
  int64_t a[kMaxRank] = {};
  int64_t b[kMaxRank] = {};
};

enum class Unary : int { Relu, Clip, Sigmoid, Tanh, GeluErf, GeluTanh, HardSigmoid, LeakyRelu, HardSwish, Sqrt, Exp, Log, Abs, Neg, Reciprocal, Erf };
enum class BinOp : int { Add, Sub, Mul, Div, Pow, Max, Min, PRelu };

// k_elementwise.cu
/** y = f(x); p0/p1: Clip min/max, HardSigmoid alpha/beta, LeakyRelu alpha. x may equal y. */
void launchUnary(Unary op, const float* x, float* y, int64_t n, float p0, float p1, cudaStream_t s);
/** y = x·scale[c] + shift[c] with c = (i / inner) % C (folded inference BatchNorm). */
void launchScaleShift(const float* x, float* y, const float* scale, const float* shift, int64_t n, int64_t C, int64_t inner, cudaStream_t s);
/** Broadcasting binary op: v.a / v.b are the strides of x0 / x1 over v.shape. */
void launchBinary(BinOp op, const float* x0, const float* x1, float* y, const Strided& v, cudaStream_t s);
/** y[i] = x[offset of i under v.a]: Expand, Transpose, broadcast fills; es = 4 or 8 bytes. */
void launchStridedCopy(const void* x, void* y, const Strided& v, int es, cudaStream_t s);
/** Constant pad (negative pads crop): v.shape = output, v.a = input strides, lo = begin pads,
 *  inShape = input dims; value = the pad value's bits (float or int64). */
void launchPad(const void* x, void* y, const Strided& v, const int64_t* lo, const int64_t* inShape, int es, uint64_t value, cudaStream_t s);
/** out[o, i, :] = data[o, idx[i], :]; a bad index sets *flag = 1 and writes zeros. */
void launchGather(const void* data, const int64_t* idx, void* y, int64_t outer, int64_t dim, int64_t nIdx, int64_t rowBytes, int* flag, cudaStream_t s);

// k_spatial.cu
struct ResizeArgs {
  int rank = 0;
  bool linear = false;
  int64_t in[kMaxRank] = {}, out[kMaxRank] = {};
  /** Device tables, per dim d at tab[d]: source index lo/hi and fraction per output index. */
  const int64_t* lo = nullptr;
  const int64_t* hi = nullptr;
  const float* frac = nullptr;
  int64_t tab[kMaxRank] = {};
};
/** Mirrors cpu ResizeKernel: nearest over any rank, linear over the last two dims. */
void launchResize(const float* x, float* y, const ResizeArgs& r, cudaStream_t s);

struct PoolArgs {
  int64_t NC = 0, H = 0, W = 0, OH = 0, OW = 0, kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0, pb = 0, pr = 0;
  bool isMax = true, countPad = false;
};
/** Mirrors cpu RefPoolKernel (ONNX window rules, ceil_mode via the output size). */
void launchPool2d(const float* x, float* y, const PoolArgs& p, cudaStream_t s);
/** y[r] = mean of x[r·inner .. (r+1)·inner). */
void launchRowMean(const float* x, float* y, int64_t rows, int64_t inner, cudaStream_t s);

struct ConvArgs {
  int64_t N = 0, C = 0, H = 0, W = 0, O = 0, OH = 0, OW = 0, KH = 1, KW = 1;
  int64_t sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0;
  int64_t groups = 1;
};
/** Direct NCHW convolution, OIHW weights, groups, dilation, asymmetric pads (pt/pl; the end pads
 *  only shape the output). bias may be null. */
void launchConv2d(const float* x, const float* w, const float* bias, float* y, const ConvArgs& a, cudaStream_t s);
/** Transposed convolution; ONNX weight [C, O/groups, KH, KW]; a.O = output channels. */
void launchConvTranspose2d(const float* x, const float* w, const float* bias, float* y, const ConvArgs& a, cudaStream_t s);

// k_reduce.cu
/** Softmax over the middle dim of [outer, D, inner] (max-subtracted). */
void launchSoftmax(const float* x, float* y, int64_t outer, int64_t D, int64_t inner, cudaStream_t s);
/** LayerNorm over rows of [outer, inner]: (x − mean)/√(var + eps)·scale + bias (bias may be null). */
void launchLayerNorm(const float* x, const float* scale, const float* bias, float* y, int64_t outer, int64_t inner, float eps, cudaStream_t s);
/** Sum (or mean) over the dims where keep[d] = 0 of x (shape v.shape); y has the kept dims. */
void launchReduce(const float* x, float* y, const int64_t* shape, const bool* reduced, int rank, bool mean, cudaStream_t s);

// k_gemm.cu
struct GemmArgs {
  int64_t M = 0, N = 0, K = 0;
  /** Element strides of A (m, k) and B (k, n): transposes are just strides. */
  int64_t am = 0, ak = 0, bk = 0, bn = 0;
  /** Batch dims of the output and each operand's stride per batch dim (0 = broadcast). */
  int batchRank = 0;
  int64_t batch[kMaxRank] = {}, aBatch[kMaxRank] = {}, bBatch[kMaxRank] = {};
  float alpha = 1.f;
  /** Optional addend (already scaled by beta) with strides over (m, n); 0 = broadcast. */
  const float* c = nullptr;
  int64_t cm = 0, cn = 0;
};
/** y[b, m, n] = alpha·Σ_k A·B + C, y contiguous; tiled shared-memory SGEMM (64×64×8 tiles). */
void launchGemm(const float* a, const float* b, float* y, const GemmArgs& g, cudaStream_t s);

}  // namespace ts::cuda
