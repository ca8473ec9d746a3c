// CPU stand-in for <cuda_runtime_api.h> plus the CUDA C++ kernel dialect used by native/src/cuda,
// for checking the CUDA backend's kernels and op classes on machines without a GPU (run.sh). It is
// never part of a real build: "device" memory is host memory, a stream runs work at once, and a
// kernel launch runs every block in turn with one std::thread per CUDA thread, so __syncthreads
// (a block barrier), shared memory (static: one block at a time) and warp shuffles (a per-warp
// exchange and barrier) behave as on a GPU for code that is correct under CUDA's rules.
#pragma once

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <functional>
#include <mutex>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

// ---- runtime API (what the backend's host code calls) ----
// Work runs when it is issued, on the issuing thread, so stream order and event order hold
// trivially; a stream capture (CUDA graphs) records the issued work instead and replays it.
typedef int cudaError_t;
enum : int { cudaSuccess = 0, cudaErrorMemoryAllocation = 2, cudaErrorInsufficientDriver = 35 };
typedef struct CUstream_st* cudaStream_t;
typedef struct CUevent_st* cudaEvent_t;
enum cudaMemcpyKind { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice, cudaMemcpyDefault };
enum : unsigned { cudaHostAllocDefault = 0, cudaStreamNonBlocking = 1, cudaEventDefault = 0, cudaEventDisableTiming = 2, cudaEventRecordExternal = 1 };
enum cudaStreamCaptureMode { cudaStreamCaptureModeGlobal, cudaStreamCaptureModeThreadLocal, cudaStreamCaptureModeRelaxed };
struct cudaDeviceProp {
  char name[256];
  int major, minor, multiProcessorCount;
  size_t totalGlobalMem;
};
struct EmuGraph {
  std::vector<std::function<void()>> work;
};
typedef EmuGraph* cudaGraph_t;
typedef EmuGraph* cudaGraphExec_t;
typedef void* cudaGraphNode_t;
/** The capture in progress on this thread (null: work runs when issued). */
inline thread_local EmuGraph* emuCapture = nullptr;
inline void emuIssue(std::function<void()> f) {
  if (emuCapture) emuCapture->work.push_back(std::move(f));
  else f();
}
inline const char* cudaGetErrorName(cudaError_t e) { return e == cudaErrorInsufficientDriver ? "cudaErrorInsufficientDriver" : e ? "cudaErrorEmulated" : "cudaSuccess"; }
inline const char* cudaGetErrorString(cudaError_t e) { return e == cudaErrorInsufficientDriver ? "emulated: no driver" : e ? "emulated failure" : "no error"; }
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
/** EMU_NO_DEVICE=1 answers like a machine without a driver. */
inline cudaError_t cudaGetDeviceCount(int* n) {
  const char* v = std::getenv("EMU_NO_DEVICE");
  if (v && v[0] == '1') return cudaErrorInsufficientDriver;
  *n = 1;
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) {
  std::memset(p, 0, sizeof(*p));
  std::strcpy(p->name, "CPU emulation of a CUDA device");
  p->major = 9, p->multiProcessorCount = 1, p->totalGlobalMem = size_t{1} << 30;
  return cudaSuccess;
}
inline cudaError_t cudaDriverGetVersion(int* v) { return *v = 13000, cudaSuccess; }
inline cudaError_t cudaRuntimeGetVersion(int* v) { return *v = 13000, cudaSuccess; }
inline cudaError_t cudaMalloc(void** p, size_t n) {
  *p = std::malloc(n ? n : 1);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
inline cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaHostAlloc(void** p, size_t n, unsigned) { return cudaMalloc(p, n); }
inline cudaError_t cudaFreeHost(void* p) { return cudaFree(p); }
inline cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) {
  std::memmove(d, s, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind, cudaStream_t = nullptr) {
  emuIssue([=] { std::memmove(d, s, n); });
  return cudaSuccess;
}
inline cudaError_t cudaMemcpy2DAsync(void* d, size_t dp, const void* s, size_t sp, size_t w, size_t h, cudaMemcpyKind, cudaStream_t = nullptr) {
  emuIssue([=] {
    for (size_t r = 0; r < h; r++) std::memmove(static_cast<char*>(d) + r * dp, static_cast<const char*>(s) + r * sp, w);
  });
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* d, int v, size_t n, cudaStream_t = nullptr) {
  emuIssue([=] { std::memset(d, v, n); });
  return cudaSuccess;
}
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  static std::atomic<intptr_t> next{1};
  *s = reinterpret_cast<cudaStream_t>(next++);
  return cudaSuccess;
}
inline cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
struct CUevent_st {
  std::atomic<int64_t> ns{0};
};
inline int64_t emuNow() { return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
inline cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned) {
  *e = new CUevent_st();
  return cudaSuccess;
}
inline cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete e;
  return cudaSuccess;
}
/** Edges (plain records inside a capture) are dependencies, not work; timestamps are taken at run. */
inline cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t = nullptr) {
  if (!emuCapture) e->ns = emuNow();
  return cudaSuccess;
}
inline cudaError_t cudaEventRecordWithFlags(cudaEvent_t e, cudaStream_t, unsigned flags) {
  if (emuCapture && (flags & cudaEventRecordExternal)) emuCapture->work.push_back([e] { e->ns = emuNow(); });
  else if (!emuCapture) e->ns = emuNow();
  return cudaSuccess;
}
inline cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned) { return cudaSuccess; }
inline cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
inline cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  *ms = static_cast<float>(static_cast<double>(b->ns - a->ns) / 1e6);
  return cudaSuccess;
}
inline cudaError_t cudaStreamBeginCapture(cudaStream_t, cudaStreamCaptureMode) {
  if (emuCapture) return 900;  // cudaErrorStreamCaptureUnsupported: nested capture
  emuCapture = new EmuGraph();
  return cudaSuccess;
}
inline cudaError_t cudaStreamEndCapture(cudaStream_t, cudaGraph_t* g) {
  *g = emuCapture;
  emuCapture = nullptr;
  return *g ? cudaSuccess : 901;
}
inline cudaError_t cudaGraphInstantiate(cudaGraphExec_t* x, cudaGraph_t g, unsigned long long) {
  *x = new EmuGraph(*g);
  return cudaSuccess;
}
inline cudaError_t cudaGraphLaunch(cudaGraphExec_t x, cudaStream_t) {
  for (auto& f : x->work) f();
  return cudaSuccess;
}
inline cudaError_t cudaGraphGetNodes(cudaGraph_t g, cudaGraphNode_t*, size_t* n) {
  *n = g->work.size();
  return cudaSuccess;
}
inline cudaError_t cudaGraphExecDestroy(cudaGraphExec_t x) {
  delete x;
  return cudaSuccess;
}
inline cudaError_t cudaGraphDestroy(cudaGraph_t g) {
  delete g;
  return cudaSuccess;
}

// ---- kernel dialect ----
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
inline std::barrier<>* emuBlockBarrier = nullptr;
inline std::vector<std::unique_ptr<std::barrier<>>> emuWarpBarriers;
inline float emuWarpBuf[32][32];
inline std::vector<float> emuDynShared(1 << 16);
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(x)
#define __shared__ static
inline void __syncthreads() { emuBlockBarrier->arrive_and_wait(); }
template <typename T>
T __ldg(const T* p) {
  return *p;
}
inline int atomicExch(int* p, int v) { return std::atomic_ref<int>(*p).exchange(v); }
inline float __shfl_down_sync(unsigned, float v, int o) {
  int tid = static_cast<int>(threadIdx.x + threadIdx.y * blockDim.x);
  int w = tid / 32, lane = tid % 32;
  emuWarpBuf[w][lane] = v;
  emuWarpBarriers[static_cast<size_t>(w)]->arrive_and_wait();
  float r = lane + o < 32 ? emuWarpBuf[w][lane + o] : v;
  emuWarpBarriers[static_cast<size_t>(w)]->arrive_and_wait();
  return r;
}
using std::max;
using std::min;
inline int64_t min(int64_t a, long long b) { return a < b ? a : static_cast<int64_t>(b); }

/** Runs a launch now: every block in turn, one thread per CUDA thread. Launches from several
 *  stream threads are serialized (the launch state above is global). */
inline std::mutex emuLaunchMu;  // one for all kernels: the launch state is shared
template <typename K, typename... A>
void emuRun(K kernel, dim3 g, dim3 b, size_t smem, A... args) {
  std::lock_guard<std::mutex> lock(emuLaunchMu);
  if (smem > emuDynShared.size() * sizeof(float)) std::abort();
  gridDim = g, blockDim = b;
  int n = static_cast<int>(b.x * b.y * b.z);
  for (unsigned bz = 0; bz < g.z; bz++)
    for (unsigned by = 0; by < g.y; by++)
      for (unsigned bx = 0; bx < g.x; bx++) {
        std::barrier<> bar(n);
        emuBlockBarrier = &bar;
        emuWarpBarriers.clear();
        for (int w = 0; w < (n + 31) / 32; w++) emuWarpBarriers.push_back(std::make_unique<std::barrier<>>(std::min(32, n - 32 * w)));
        std::vector<std::thread> ts;
        for (int t = 0; t < n; t++)
          ts.emplace_back([&, t] {
            blockIdx = dim3(bx, by, bz);
            threadIdx = dim3(t % b.x, (t / b.x) % b.y, t / (b.x * b.y));
            kernel(args...);
          });
        for (auto& th : ts) th.join();
      }
}

/** kernel<<<g, b, smem, s>>>(args...) as rewritten by translate.py: run now, or record in a capture. */
template <typename K, typename... A>
void emuLaunch(K kernel, dim3 g, dim3 b, size_t smem, A... args) {
  emuIssue([=] { emuRun(kernel, g, b, smem, args...); });
}
