// Spatial CUDA kernels: Resize (tables computed on the host exactly as the CPU kernel does),
// 2-D pooling with ONNX window rules, row means (GlobalAveragePool), direct convolution and
// transposed convolution. Simple and general rather than fast: the cuDNN paths (lib_ops.cpp) take
// the common cases when the library is present.
#include <cfloat>

#include "grid.hpp"
#include "launch.hpp"

namespace ts::cuda {

namespace {

__global__ void resizeKernel(const float* __restrict__ x, float* __restrict__ y, ResizeArgs r, int64_t n) {
  GRID_STRIDE(i, n) {
    const int last = r.rank - 1;
    int64_t rem = i;
    int64_t oLast = rem % r.out[last];
    rem /= r.out[last];
    int64_t off = 0, offB = 0, stride = r.in[last];
    float fr = 0.f;
    for (int d = last - 1; d >= 0; d--) {
      int64_t o = rem % r.out[d];
      rem /= r.out[d];
      int64_t k = r.tab[d] + o;
      off += r.lo[k] * stride;
      if (r.linear && d == last - 1) {
        offB = (r.hi[k] - r.lo[k]) * stride;
        fr = r.frac[k];
      }
      stride *= r.in[d];
    }
    const float* p = x + off;
    int64_t k = r.tab[last] + oLast;
    if (!r.linear) {
      y[i] = p[r.lo[k]];
    } else {
      const float* q = p + offB;
      float f = r.frac[k];
      float top = p[r.lo[k]] + f * (p[r.hi[k]] - p[r.lo[k]]);
      float bot = q[r.lo[k]] + f * (q[r.hi[k]] - q[r.lo[k]]);
      y[i] = top + fr * (bot - top);
    }
  }
}

__global__ void poolKernel(const float* __restrict__ x, float* __restrict__ y, PoolArgs p, int64_t n) {
  GRID_STRIDE(i, n) {
    int64_t ow = i % p.OW, oh = (i / p.OW) % p.OH, nc = i / (p.OW * p.OH);
    const float* xp = x + nc * p.H * p.W;
    int64_t h0 = oh * p.sh - p.pt, w0 = ow * p.sw - p.pl;
    int64_t hEnd = min(h0 + (p.kh - 1) * p.dh + 1, p.H + p.pb), wEnd = min(w0 + (p.kw - 1) * p.dw + 1, p.W + p.pr);
    float acc = p.isMax ? -FLT_MAX : 0.f;
    int64_t inCount = 0, padCount = 0;
    for (int64_t h = h0; h < hEnd; h += p.dh)
      for (int64_t w = w0; w < wEnd; w += p.dw) {
        padCount++;
        if (h < 0 || h >= p.H || w < 0 || w >= p.W) continue;
        float v = xp[h * p.W + w];
        acc = p.isMax ? fmaxf(acc, v) : acc + v;
        inCount++;
      }
    if (!p.isMax) {
      int64_t cnt = p.countPad ? padCount : inCount;
      acc /= static_cast<float>(cnt > 1 ? cnt : 1);
    }
    y[i] = acc;
  }
}

/** One warp per row. */
__global__ void rowMeanKernel(const float* __restrict__ x, float* __restrict__ y, int64_t rows, int64_t inner) {
  int64_t warp = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32;
  int lane = threadIdx.x % 32;
  if (warp >= rows) return;
  const float* p = x + warp * inner;
  float s = 0.f;
  for (int64_t k = lane; k < inner; k += 32) s += p[k];
  for (int o = 16; o > 0; o /= 2) s += __shfl_down_sync(0xffffffffu, s, o);
  if (lane == 0) y[warp] = s / static_cast<float>(inner);
}

constexpr int kTile = 16;  // 16×16 output pixels per block
constexpr int kOct = 8;    // output channels per thread

/**
 * Direct convolution. A block computes a 16×16 pixel tile for kOct output channels of one image;
 * the weights of those channels for a chunk of input channels are staged in shared memory and
 * every thread reuses them for its pixel.
 */
__global__ void convKernel(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias, float* __restrict__ y, ConvArgs a, int64_t tilesW,
                           int64_t ctChunk) {
  extern __shared__ float ws[];  // [kOct][ctChunk][KH][KW]
  const int64_t Cg = a.C / a.groups, Og = a.O / a.groups;
  const int64_t ocTiles = (Og + kOct - 1) / kOct;
  const int64_t g = blockIdx.y / ocTiles, oc0 = g * Og + (blockIdx.y % ocTiles) * kOct;
  const int64_t ocEnd = min(oc0 + kOct, (g + 1) * Og);
  const int64_t n = blockIdx.z;
  const int64_t oh = (blockIdx.x / tilesW) * kTile + threadIdx.y, ow = (blockIdx.x % tilesW) * kTile + threadIdx.x;
  const bool active = oh < a.OH && ow < a.OW;
  const int64_t KK = a.KH * a.KW;
  float acc[kOct];
#pragma unroll
  for (int j = 0; j < kOct; j++) acc[j] = 0.f;
  const int tid = threadIdx.y * kTile + threadIdx.x;
  for (int64_t c0 = 0; c0 < Cg; c0 += ctChunk) {
    const int64_t cn = min(ctChunk, Cg - c0);
    __syncthreads();
    for (int64_t e = tid; e < kOct * cn * KK; e += kTile * kTile) {
      int64_t j = e / (cn * KK), rest = e % (cn * KK);
      int64_t oc = oc0 + j;
      ws[e] = oc < ocEnd ? w[(oc * Cg + c0) * KK + rest] : 0.f;
    }
    __syncthreads();
    if (!active) continue;
    for (int64_t cc = 0; cc < cn; cc++) {
      const float* xc = x + ((n * a.C) + g * Cg + c0 + cc) * a.H * a.W;
      for (int64_t kh = 0; kh < a.KH; kh++) {
        int64_t ih = oh * a.sh - a.pt + kh * a.dh;
        if (ih < 0 || ih >= a.H) continue;
        for (int64_t kw = 0; kw < a.KW; kw++) {
          int64_t iw = ow * a.sw - a.pl + kw * a.dw;
          if (iw < 0 || iw >= a.W) continue;
          float v = __ldg(xc + ih * a.W + iw);
          const float* wp = ws + (cc * a.KH + kh) * a.KW + kw;
#pragma unroll
          for (int j = 0; j < kOct; j++) acc[j] += v * wp[j * cn * KK];
        }
      }
    }
  }
  if (!active) return;
  for (int j = 0; j < kOct; j++) {
    int64_t oc = oc0 + j;
    if (oc >= ocEnd) break;
    y[((n * a.O + oc) * a.OH + oh) * a.OW + ow] = acc[j] + (bias ? bias[oc] : 0.f);
  }
}

/** Transposed convolution as a gather: each output pixel sums the inputs that scatter onto it. */
__global__ void convTransposeKernel(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias, float* __restrict__ y, ConvArgs a, int64_t total) {
  GRID_STRIDE(i, total) {
    int64_t ow = i % a.OW, oh = (i / a.OW) % a.OH, oc = (i / (a.OW * a.OH)) % a.O, n = i / (a.OW * a.OH * a.O);
    const int64_t Cg = a.C / a.groups, Og = a.O / a.groups;
    const int64_t g = oc / Og, ocg = oc % Og;
    float acc = bias ? bias[oc] : 0.f;
    for (int64_t kh = 0; kh < a.KH; kh++) {
      int64_t th = oh + a.pt - kh * a.dh;
      if (th < 0 || th % a.sh) continue;
      int64_t ih = th / a.sh;
      if (ih >= a.H) continue;
      for (int64_t kw = 0; kw < a.KW; kw++) {
        int64_t tw = ow + a.pl - kw * a.dw;
        if (tw < 0 || tw % a.sw) continue;
        int64_t iw = tw / a.sw;
        if (iw >= a.W) continue;
        for (int64_t cg = 0; cg < Cg; cg++) {
          int64_t ic = g * Cg + cg;
          acc += x[((n * a.C + ic) * a.H + ih) * a.W + iw] * w[((ic * Og + ocg) * a.KH + kh) * a.KW + kw];
        }
      }
    }
    y[i] = acc;
  }
}

}  // namespace

void launchResize(const float* x, float* y, const ResizeArgs& r, cudaStream_t s) {
  int64_t n = 1;
  for (int d = 0; d < r.rank; d++) n *= r.out[d];
  if (n > 0) resizeKernel<<<grid(n), kBlock, 0, s>>>(x, y, r, n);
}

void launchPool2d(const float* x, float* y, const PoolArgs& p, cudaStream_t s) {
  int64_t n = p.NC * p.OH * p.OW;
  if (n > 0) poolKernel<<<grid(n), kBlock, 0, s>>>(x, y, p, n);
}

void launchRowMean(const float* x, float* y, int64_t rows, int64_t inner, cudaStream_t s) {
  if (rows <= 0 || inner <= 0) return;
  int64_t threads = rows * 32;
  rowMeanKernel<<<grid(threads), kBlock, 0, s>>>(x, y, rows, inner);
}

void launchConv2d(const float* x, const float* w, const float* bias, float* y, const ConvArgs& a, cudaStream_t s) {
  if (a.N <= 0 || a.O <= 0 || a.OH <= 0 || a.OW <= 0) return;
  const int64_t KK = a.KH * a.KW, Cg = a.C / a.groups, Og = a.O / a.groups;
  // Input channels per shared-memory chunk: at most 32 KiB of weights per block.
  int64_t ct = 8192 / (kOct * KK);
  if (ct < 1) ct = 1;
  if (ct > Cg) ct = Cg;
  int64_t tilesW = (a.OW + kTile - 1) / kTile, tilesH = (a.OH + kTile - 1) / kTile;
  int64_t ocTiles = (Og + kOct - 1) / kOct;
  dim3 g(static_cast<unsigned>(tilesW * tilesH), static_cast<unsigned>(ocTiles * a.groups), static_cast<unsigned>(a.N));
  dim3 b(kTile, kTile);
  size_t smem = static_cast<size_t>(kOct * ct * KK) * sizeof(float);
  convKernel<<<g, b, smem, s>>>(x, w, bias, y, a, tilesW, ct);
}

void launchConvTranspose2d(const float* x, const float* w, const float* bias, float* y, const ConvArgs& a, cudaStream_t s) {
  int64_t n = a.N * a.O * a.OH * a.OW;
  if (n > 0) convTransposeKernel<<<grid(n), kBlock, 0, s>>>(x, w, bias, y, a, n);
}

}  // namespace ts::cuda
