// The CUDA backend: device memory with cudaMalloc, one cudaStream_t per executor stream, events
// (cudaEventDisableTiming) for cross-stream edges, pinned or pageable staging for inputs and
// outputs, and kernels from cuDNN / cuBLAS (dlopen, when present) or our own CUDA kernels.
//
// Streams: each Stream is a host worker thread that plays its commands in order, as on the CPU:
//   Call   -> runs the host function, whose kernels launch on the stream's cudaStream_t;
//   Record -> cudaEventRecord(event, stream), then marks the event issued for host waiters;
//   Wait   -> waits until the matching Record has been issued, then cudaStreamWaitEvent;
//   drain  -> waits for the queue, then cudaStreamSynchronize.
// The host wait in Wait is needed because streams submit from different threads: a
// cudaStreamWaitEvent on an event whose record has not been issued yet would not wait at all.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cuda_context.hpp"
#include "libs.hpp"

namespace ts::cuda {

/** CUDA-only settings (BackendOptions carries the common ones). */
struct CudaOptions {
  /** Host side of input/output copies: "pinned" (cudaHostAlloc staging) or "pageable". */
  std::string staging = "pinned";
  int device = 0;
  /** Defaults, then TOPSCHED_CUDA_STAGING / TOPSCHED_CUDA_DEVICE from the environment. */
  static CudaOptions fromEnv();
};

class CudaEvent : public Event {
 public:
  explicit CudaEvent(cudaEvent_t e) : ev(e) {}
  ~CudaEvent() override;
  cudaEvent_t ev;
  void markIssued();
  void waitIssued();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool issued_ = false;
};

class CudaBackend;

class CudaStream : public Stream {
 public:
  CudaStream(int index, CudaBackend& backend);
  ~CudaStream() override;
  void submit(const Command* cmds, size_t n) override;
  void drain() override;
  cudaStream_t handle() const { return stream_; }
  /** The stream's kernel context; the schedule runner uses it while the executor is idle. */
  CudaContext& context() { return *ctx_; }
  /** Host staging of this stream (pinned or pageable) and the event guarding its reuse. */
  void stageIn(void* dst, const void* src, size_t n);
  void stageOut(void* dst, const void* src, size_t n);
  /** The stream whose worker thread is the caller, or null. */
  static CudaStream* current();

 private:
  void loop();
  int index_;
  CudaBackend& backend_;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<CudaContext> ctx_;
  PinnedBuffer pinned_;
  cudaEvent_t stagingDone_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_, idle_;
  std::vector<Command> queue_;
  size_t submitted_ = 0, done_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

class CudaBackend : public Backend {
 public:
  CudaBackend(const BackendOptions& o, const CudaOptions& c);
  ~CudaBackend() override;
  std::string name() const override { return "cuda"; }
  std::string device() const override { return deviceName_; }
  std::shared_ptr<Kernel> compile(const OpSpec& s) override;
  size_t kernelCount() const override;
  bool hostMemory() const override { return false; }
  void* alloc(size_t bytes) override;
  void dealloc(void* p, size_t bytes) override;
  /** On a stream's worker thread: async copy on that stream (staged); elsewhere cudaMemcpy. */
  void toDevice(void* dst, const void* src, size_t n) override;
  void toHost(void* dst, const void* src, size_t n) override;
  std::unique_ptr<Stream> createStream(int index) override;
  std::unique_ptr<Event> createEvent() override;
  json info() const override;

  const BackendOptions& options() const { return opts_; }
  const CudaOptions& cudaOptions() const { return cuda_; }
  Libs& libs() { return *libs_; }
  int deviceIndex() const { return cuda_.device; }
  /** Events come from a pool: creating one per edge per task would cost a driver call each. */
  cudaEvent_t takeEvent();
  void giveEvent(cudaEvent_t e);
  /** The schedule runner's per-(prepared, options) state, kept so a CUDA graph is built once. */
  std::mutex runnerMu;
  std::map<std::string, std::shared_ptr<void>> runnerCache;

 private:
  std::shared_ptr<Kernel> build(const OpSpec& s);
  BackendOptions opts_;
  CudaOptions cuda_;
  std::string deviceName_;
  json props_;
  std::unique_ptr<Libs> libs_;
  mutable std::mutex mu_;
  std::mutex buildMu_;
  std::unordered_map<std::string, std::shared_ptr<Kernel>> cache_;
  std::mutex poolMu_;
  std::vector<cudaEvent_t> eventPool_;
};

/** The CUDA backend behind an executor, or null when it runs another backend. */
CudaBackend* asCudaBackend(Backend& b);

/** Creates the backend; throws "no CUDA device: cudaGetDeviceCount returned ..." without a GPU. */
std::unique_ptr<Backend> createCudaBackendWith(const BackendOptions& opts, const CudaOptions& cuda);

}  // namespace ts::cuda
