// Elementwise CUDA kernels: unary activations, folded BatchNorm, broadcasting binary ops, strided
// copies (Expand / Transpose), constant Pad and Gather. One thread per output element with a
// grid-stride loop; index arithmetic in int64 so tensors past 2^31 elements stay correct.
#include <cmath>

#include "grid.hpp"
#include "launch.hpp"

namespace ts::cuda {

namespace {

__global__ void unaryKernel(Unary op, const float* x, float* y, int64_t n, float p0, float p1) {
  GRID_STRIDE(i, n) {
    float v = x[i];
    float r;
    switch (op) {
      case Unary::Relu:
        r = v > 0.f ? v : 0.f;
        break;
      case Unary::Clip:
        r = fminf(p1, fmaxf(p0, v));
        break;
      case Unary::Sigmoid:
        r = 1.f / (1.f + expf(-v));
        break;
      case Unary::Tanh:
        r = tanhf(v);
        break;
      case Unary::GeluErf:
        r = 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
        break;
      case Unary::GeluTanh:
        r = 0.5f * v * (1.f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
        break;
      case Unary::HardSigmoid:
        r = fminf(1.f, fmaxf(0.f, p0 * v + p1));
        break;
      case Unary::LeakyRelu:
        r = v < 0.f ? p0 * v : v;
        break;
      case Unary::HardSwish:
        r = v * fminf(1.f, fmaxf(0.f, v / 6.f + 0.5f));
        break;
      case Unary::Sqrt:
        r = sqrtf(v);
        break;
      case Unary::Exp:
        r = expf(v);
        break;
      case Unary::Log:
        r = logf(v);
        break;
      case Unary::Abs:
        r = fabsf(v);
        break;
      case Unary::Neg:
        r = -v;
        break;
      case Unary::Reciprocal:
        r = 1.f / v;
        break;
      default:  // Erf
        r = erff(v);
    }
    y[i] = r;
  }
}

__global__ void scaleShiftKernel(const float* __restrict__ x, float* __restrict__ y, const float* __restrict__ scale, const float* __restrict__ shift, int64_t n,
                                 int64_t C, int64_t inner) {
  GRID_STRIDE(i, n) {
    int64_t c = (i / inner) % C;
    y[i] = x[i] * scale[c] + shift[c];
  }
}

__device__ __forceinline__ float binop(BinOp op, float a, float b) {
  switch (op) {
    case BinOp::Add:
      return a + b;
    case BinOp::Sub:
      return a - b;
    case BinOp::Mul:
      return a * b;
    case BinOp::Div:
      return a / b;
    case BinOp::Pow:
      return powf(a, b);
    case BinOp::Max:  // NaN propagates, as in onnxruntime
      return a != a || b != b ? a + b : fmaxf(a, b);
    case BinOp::Min:
      return a != a || b != b ? a + b : fminf(a, b);
    default:  // PRelu
      return a < 0.f ? a * b : a;
  }
}

__global__ void binaryKernel(BinOp op, const float* x0, const float* x1, float* y, Strided v, int64_t n) {
  GRID_STRIDE(i, n) {
    int64_t rem = i, oa = 0, ob = 0;
    for (int d = v.rank - 1; d >= 0; d--) {
      int64_t idx = rem % v.shape[d];
      rem /= v.shape[d];
      oa += idx * v.a[d];
      ob += idx * v.b[d];
    }
    y[i] = binop(op, x0[oa], x1[ob]);
  }
}

/** Same shapes (or a scalar operand): no index decomposition. */
__global__ void binaryFlatKernel(BinOp op, const float* __restrict__ x0, const float* __restrict__ x1, float* __restrict__ y, int64_t n, int64_t s0, int64_t s1) {
  GRID_STRIDE(i, n) y[i] = binop(op, x0[i * s0], x1[i * s1]);
}

template <typename T>
__global__ void stridedCopyKernel(const T* __restrict__ x, T* __restrict__ y, Strided v, int64_t n) {
  GRID_STRIDE(i, n) {
    int64_t rem = i, off = 0;
    for (int d = v.rank - 1; d >= 0; d--) {
      int64_t idx = rem % v.shape[d];
      rem /= v.shape[d];
      off += idx * v.a[d];
    }
    y[i] = x[off];
  }
}

struct PadDims {
  int64_t lo[kMaxRank];
  int64_t in[kMaxRank];
};

template <typename T>
__global__ void padKernel(const T* __restrict__ x, T* __restrict__ y, Strided v, PadDims p, T value, int64_t n) {
  GRID_STRIDE(i, n) {
    int64_t rem = i, off = 0;
    bool inside = true;
    for (int d = v.rank - 1; d >= 0; d--) {
      int64_t idx = rem % v.shape[d] - p.lo[d];
      rem /= v.shape[d];
      if (idx < 0 || idx >= p.in[d]) inside = false;
      off += idx * v.a[d];
    }
    y[i] = inside ? x[off] : value;
  }
}

/** Rows are copied in 4-byte units (element sizes are 4 or 8). */
__global__ void gatherKernel(const uint32_t* __restrict__ data, const int64_t* __restrict__ idx, uint32_t* __restrict__ y, int64_t nIdx, int64_t dim, int64_t rowUnits,
                             int64_t n, int* flag) {
  GRID_STRIDE(u, n) {
    int64_t k = u / rowUnits, r = u % rowUnits;
    int64_t o = k / nIdx, i = k % nIdx;
    int64_t j = idx[i];
    if (j < 0) j += dim;
    if (j < 0 || j >= dim) {
      atomicExch(flag, 1);
      y[u] = 0;
    } else {
      y[u] = data[(o * dim + j) * rowUnits + r];
    }
  }
}

}  // namespace

void launchUnary(Unary op, const float* x, float* y, int64_t n, float p0, float p1, cudaStream_t s) {
  if (n > 0) unaryKernel<<<grid(n), kBlock, 0, s>>>(op, x, y, n, p0, p1);
}

void launchScaleShift(const float* x, float* y, const float* scale, const float* shift, int64_t n, int64_t C, int64_t inner, cudaStream_t s) {
  if (n > 0) scaleShiftKernel<<<grid(n), kBlock, 0, s>>>(x, y, scale, shift, n, C, inner > 0 ? inner : 1);
}

void launchBinary(BinOp op, const float* x0, const float* x1, float* y, const Strided& v, cudaStream_t s) {
  int64_t n = 1;
  for (int d = 0; d < v.rank; d++) n *= v.shape[d];
  if (n <= 0) return;
  // Flat when each operand is either contiguous over the output or a single value.
  auto flatStride = [&](const int64_t* st) -> int64_t {
    bool zero = true, contiguous = true;
    int64_t expect = 1;
    for (int d = v.rank - 1; d >= 0; d--) {
      if (v.shape[d] != 1 && st[d] != 0) zero = false;
      if (v.shape[d] != 1 && st[d] != expect) contiguous = false;
      expect *= v.shape[d];
    }
    return zero ? 0 : contiguous ? 1 : -1;
  };
  int64_t s0 = flatStride(v.a), s1 = flatStride(v.b);
  if (s0 >= 0 && s1 >= 0) binaryFlatKernel<<<grid(n), kBlock, 0, s>>>(op, x0, x1, y, n, s0, s1);
  else binaryKernel<<<grid(n), kBlock, 0, s>>>(op, x0, x1, y, v, n);
}

void launchStridedCopy(const void* x, void* y, const Strided& v, int es, cudaStream_t s) {
  int64_t n = 1;
  for (int d = 0; d < v.rank; d++) n *= v.shape[d];
  if (n <= 0) return;
  if (es == 8) stridedCopyKernel<uint64_t><<<grid(n), kBlock, 0, s>>>(static_cast<const uint64_t*>(x), static_cast<uint64_t*>(y), v, n);
  else stridedCopyKernel<uint32_t><<<grid(n), kBlock, 0, s>>>(static_cast<const uint32_t*>(x), static_cast<uint32_t*>(y), v, n);
}

void launchPad(const void* x, void* y, const Strided& v, const int64_t* lo, const int64_t* inShape, int es, uint64_t value, cudaStream_t s) {
  int64_t n = 1;
  for (int d = 0; d < v.rank; d++) n *= v.shape[d];
  if (n <= 0) return;
  PadDims p{};
  for (int d = 0; d < v.rank; d++) p.lo[d] = lo[d], p.in[d] = inShape[d];
  if (es == 8) {
    padKernel<uint64_t><<<grid(n), kBlock, 0, s>>>(static_cast<const uint64_t*>(x), static_cast<uint64_t*>(y), v, p, value, n);
  } else {
    padKernel<uint32_t><<<grid(n), kBlock, 0, s>>>(static_cast<const uint32_t*>(x), static_cast<uint32_t*>(y), v, p, static_cast<uint32_t>(value), n);
  }
}

void launchGather(const void* data, const int64_t* idx, void* y, int64_t outer, int64_t dim, int64_t nIdx, int64_t rowBytes, int* flag, cudaStream_t s) {
  int64_t rowUnits = rowBytes / 4;
  int64_t n = outer * nIdx * rowUnits;
  if (n <= 0) return;
  gatherKernel<<<grid(n), kBlock, 0, s>>>(static_cast<const uint32_t*>(data), idx, static_cast<uint32_t*>(y), nIdx, dim, rowUnits, n, flag);
}

}  // namespace ts::cuda
