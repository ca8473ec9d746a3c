// Host-side basics of the CUDA backend: error checks that turn CUDA status codes into ts::Error,
// device buffers owned by RAII handles, and the per-stream execution context handed to kernels.
//
// Completion rule: with the generic executor (executor.cpp) every kernel finishes before run()
// returns (CudaContext::syncEachOp). The executor does its bookkeeping on the host around each
// run() — it frees a step's inputs right after it, stamps op start/end with the host clock, and the
// profiler times run() the same way — so an asynchronous launch would let another stream reuse a
// buffer a kernel is still reading. The schedule runner (cuda_runner.cpp) owns its memory for the
// whole run and launches everything asynchronously (syncEachOp = false), optionally as a CUDA graph.
#pragma once

#include <cuda_runtime_api.h>

#include <memory>
#include <string>

#include "../backend.hpp"

namespace ts::cuda {

/** Throws Error("<what>: <CUDA error name>: <description>") unless st is cudaSuccess. */
void check(cudaError_t st, const char* what);

/** Clears and reports a pending launch error (a bad grid, a missing kernel image). */
void checkLaunch(const char* what);

/** Device memory freed on destruction (cudaFree). */
struct DeviceBuffer {
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  /** Ensures capacity; contents are not kept when it grows. Only when nothing in flight uses it. */
  void* reserve(size_t bytes);
  void* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  void* p_ = nullptr;
  size_t n_ = 0;
};

/** Page-locked host memory (cudaHostAlloc), for staging copies that can overlap compute. */
struct PinnedBuffer {
  PinnedBuffer() = default;
  ~PinnedBuffer();
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void* reserve(size_t bytes);
  void* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  void* p_ = nullptr;
  size_t n_ = 0;
};

/** A host array uploaded once (kernel tables, folded BatchNorm constants). */
std::shared_ptr<DeviceBuffer> upload(const void* host, size_t bytes);

class Libs;  // libs.hpp: cuDNN / cuBLAS opened with dlopen

/** Per-stream context: its cudaStream_t, scratch/temp device memory and library handles. */
class CudaContext : public ExecContext {
 public:
  CudaContext(cudaStream_t s, Libs* libs, int device);
  ~CudaContext() override;
  cudaStream_t stream;
  /** Whether each kernel waits for its own completion (see the completion rule above). */
  bool syncEachOp = true;
  int device = 0;
  void* scratch(size_t bytes) override { return scratch_.reserve(bytes); }
  void* temp(size_t bytes) override { return temp_.reserve(bytes); }
  /** After a kernel's launches: reports launch errors and, with syncEachOp, waits for them. */
  void finish(const char* what);
  /** A device int that kernels set on bad data (Gather's out-of-range index); 0 = fine. */
  int* errorFlag();
  /** Reads and clears the flag (synchronizes the stream); returns its value. */
  int takeError();
  /** cuDNN / cuBLAS handles bound to this stream, created on first use; null when absent. */
  void* cudnn();
  void* cublas();
  Libs* libs;

 private:
  DeviceBuffer scratch_, temp_, flag_, cublasWs_;
  void* cudnn_ = nullptr;
  void* cublas_ = nullptr;
};

/** Grid size for n items at `block` threads each, capped so grid-stride loops cover the rest. */
inline unsigned gridFor(int64_t n, int block) {
  int64_t g = (n + block - 1) / block;
  if (g < 1) g = 1;
  if (g > 65535LL * 32) g = 65535LL * 32;
  return static_cast<unsigned>(g);
}

}  // namespace ts::cuda
