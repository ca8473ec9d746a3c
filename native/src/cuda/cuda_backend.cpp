#include "cuda_backend.hpp"

#include <cstdlib>
#include <cstring>
#include <iostream>

#include "cuda_kernels.hpp"

namespace ts {

std::unique_ptr<Backend> createCudaBackend(const BackendOptions& opts) { return cuda::createCudaBackendWith(opts, cuda::CudaOptions::fromEnv()); }

namespace cuda {

namespace {

thread_local CudaStream* tlsStream = nullptr;

std::string signature(const OpSpec& s) {
  std::string k = s.op + "|" + s.attrs.dump();
  for (const auto& in : s.ins) k += "|" + shapeStr(in.shape) + dtypeName(in.dtype) + (in.data ? "c" : "a");
  for (size_t i = 0; i < s.outShapes.size(); i++) k += "|>" + shapeStr(s.outShapes[i]) + dtypeName(s.outDtypes[i]);
  return k;
}

}  // namespace

CudaOptions CudaOptions::fromEnv() {
  CudaOptions o;
  if (const char* v = std::getenv("TOPSCHED_CUDA_STAGING")) o.staging = v;
  o.device = static_cast<int>(envNumber("TOPSCHED_CUDA_DEVICE", o.device, 0, 1023, true));
  return o;
}

// ---- events ----

CudaEvent::~CudaEvent() = default;  // the handle goes back to the backend's pool (see createEvent)

void CudaEvent::markIssued() {
  std::lock_guard<std::mutex> l(mu_);
  issued_ = true;
  cv_.notify_all();
}

void CudaEvent::waitIssued() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return issued_; });
}

namespace {

/** An event whose handle returns to the pool when the task that made it is destroyed. */
class PooledEvent : public CudaEvent {
 public:
  PooledEvent(CudaBackend& b, cudaEvent_t e) : CudaEvent(e), backend_(b) {}
  ~PooledEvent() override { backend_.giveEvent(ev); }

 private:
  CudaBackend& backend_;
};

}  // namespace

// ---- streams ----

CudaStream::CudaStream(int index, CudaBackend& backend) : index_(index), backend_(backend) {
  check(cudaSetDevice(backend.deviceIndex()), "cudaSetDevice");
  // Non-blocking: no implicit ordering with the legacy default stream (synchronous cudaMemcpy
  // of weights on a loader thread must not stall running streams, nor the reverse).
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  check(cudaEventCreateWithFlags(&stagingDone_, cudaEventDisableTiming), "cudaEventCreate");
  ctx_ = std::make_unique<CudaContext>(stream_, &backend.libs(), backend.deviceIndex());
  ctx_->slot = index;
  ctx_->opThreads = 1;
  thread_ = std::thread([this] { loop(); });
}

CudaStream::~CudaStream() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  cudaStreamSynchronize(stream_);
  ctx_.reset();
  cudaEventDestroy(stagingDone_);
  cudaStreamDestroy(stream_);
}

CudaStream* CudaStream::current() { return tlsStream; }

void CudaStream::submit(const Command* cmds, size_t n) {
  {
    std::lock_guard<std::mutex> l(mu_);
    queue_.insert(queue_.end(), cmds, cmds + n);
    submitted_ += n;
  }
  cv_.notify_one();
}

void CudaStream::drain() {
  {
    std::unique_lock<std::mutex> l(mu_);
    idle_.wait(l, [&] { return done_ == submitted_; });
  }
  check(cudaStreamSynchronize(stream_), "stream drain");
}

void CudaStream::loop() {
  cudaSetDevice(backend_.deviceIndex());
  tlsStream = this;
  std::vector<Command> local;
  for (;;) {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty() && stop_) return;
      local.swap(queue_);
    }
    for (const Command& c : local) {
      switch (c.kind) {
        case Command::Kind::Wait: {
          auto* e = static_cast<CudaEvent*>(c.event);
          e->waitIssued();
          cudaError_t st = cudaStreamWaitEvent(stream_, e->ev, 0);
          if (st != cudaSuccess) std::cerr << "topsched: cuda stream " << index_ << ": cudaStreamWaitEvent: " << cudaGetErrorString(st) << std::endl;
          break;
        }
        case Command::Kind::Record: {
          auto* e = static_cast<CudaEvent*>(c.event);
          cudaError_t st = cudaEventRecord(e->ev, stream_);
          if (st != cudaSuccess) std::cerr << "topsched: cuda stream " << index_ << ": cudaEventRecord: " << cudaGetErrorString(st) << std::endl;
          e->markIssued();  // even on failure: a waiter must not hang
          break;
        }
        case Command::Kind::Call:
          try {
            c.fn(c.arg, *ctx_);
          } catch (const std::exception& e) {
            // Calls catch their own errors; reaching here is a bug, but the stream must live on.
            std::cerr << "topsched: cuda stream " << index_ << ": uncaught error: " << e.what() << std::endl;
          }
          break;
      }
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      done_ += local.size();
      if (done_ == submitted_) idle_.notify_all();
    }
    local.clear();
  }
}

void CudaStream::stageIn(void* dst, const void* src, size_t n) {
  if (!n) return;
  if (backend_.cudaOptions().staging == "pinned") {
    // The previous staged copy must have left the buffer before it is refilled (or regrown).
    check(cudaEventSynchronize(stagingDone_), "staging");
    void* buf = pinned_.reserve(n);
    std::memcpy(buf, src, n);
    check(cudaMemcpyAsync(dst, buf, n, cudaMemcpyHostToDevice, stream_), "input copy (pinned)");
    check(cudaEventRecord(stagingDone_, stream_), "staging");
  } else {
    // Pageable: the driver copies `src` into its own staging before returning.
    check(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, stream_), "input copy (pageable)");
  }
}

void CudaStream::stageOut(void* dst, const void* src, size_t n) {
  if (!n) return;
  if (backend_.cudaOptions().staging == "pinned") {
    check(cudaEventSynchronize(stagingDone_), "staging");
    void* buf = pinned_.reserve(n);
    check(cudaMemcpyAsync(buf, src, n, cudaMemcpyDeviceToHost, stream_), "output copy (pinned)");
    check(cudaStreamSynchronize(stream_), "output copy (pinned)");
    std::memcpy(dst, buf, n);
  } else {
    check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, stream_), "output copy (pageable)");
    check(cudaStreamSynchronize(stream_), "output copy (pageable)");
  }
}

// ---- backend ----

CudaBackend::CudaBackend(const BackendOptions& o, const CudaOptions& c) : opts_(o), cuda_(c) {
  if (cuda_.staging != "pinned" && cuda_.staging != "pageable") throw Error("CUDA staging '" + cuda_.staging + "' is not one of pinned, pageable");
  int count = 0;
  cudaError_t st = cudaGetDeviceCount(&count);
  if (st != cudaSuccess) {
    cudaGetLastError();  // clear it: the process goes on with the CPU backend
    throw Error(std::string("no CUDA device: cudaGetDeviceCount returned ") + cudaGetErrorName(st) + " (" + cudaGetErrorString(st) + ")");
  }
  if (count == 0) throw Error("no CUDA device: cudaGetDeviceCount found 0 devices");
  if (cuda_.device < 0 || cuda_.device >= count) throw Error("CUDA device " + std::to_string(cuda_.device) + " does not exist (" + std::to_string(count) + " found)");
  check(cudaSetDevice(cuda_.device), "cudaSetDevice");
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, cuda_.device), "cudaGetDeviceProperties");
  deviceName_ = p.name;
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  props_ = {{"computeCapability", std::to_string(p.major) + "." + std::to_string(p.minor)},
            {"multiprocessors", p.multiProcessorCount},
            {"memoryBytes", p.totalGlobalMem},
            {"driver", std::to_string(driver / 1000) + "." + std::to_string((driver % 1000) / 10)},
            {"runtime", std::to_string(runtime / 1000) + "." + std::to_string((runtime % 1000) / 10)}};
  libs_ = std::make_unique<Libs>();
}

CudaBackend::~CudaBackend() {
  std::lock_guard<std::mutex> l(poolMu_);
  for (cudaEvent_t e : eventPool_) cudaEventDestroy(e);
}

std::shared_ptr<Kernel> CudaBackend::compile(const OpSpec& s) {
  // The calling (loader) thread then also prepares the node's constants on this device.
  check(cudaSetDevice(cuda_.device), "cudaSetDevice");
  std::string key = signature(s);
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
  }
  std::shared_ptr<Kernel> k;
  {
    // Kernel constructors upload tables and query cuDNN through one shared handle: one at a time.
    std::lock_guard<std::mutex> b(buildMu_);
    k = build(s);
  }
  std::lock_guard<std::mutex> l(mu_);
  return cache_.emplace(key, k).first->second;
}

std::shared_ptr<Kernel> CudaBackend::build(const OpSpec& s) {
  const std::string& op = s.op;
  Libs& L = *libs_;
  auto pick = [](KernelPtr lib, KernelPtr (*own)(const OpSpec&), const OpSpec& spec) { return lib ? lib : own(spec); };
  if (op == "Conv") return pick(makeCudnnConv(s, L), makeConv, s);
  if (op == "ConvTranspose") return makeConvTranspose(s);
  if (op == "Gemm") return pick(makeCublasGemm(s, L), makeGemm, s);
  if (op == "MatMul") return pick(makeCublasMatMul(s, L), makeMatMul, s);
  if (op == "BatchNormalization") return pick(makeCudnnBatchNorm(s, L), makeBatchNorm, s);
  if (op == "Relu" || op == "Clip" || op == "Sigmoid" || op == "Tanh") return pick(makeCudnnActivation(s, L), makeUnary, s);
  for (const char* u : {"Gelu", "HardSigmoid", "LeakyRelu", "HardSwish", "Sqrt", "Exp", "Log", "Abs", "Neg", "Reciprocal", "Erf"})
    if (op == u) return makeUnary(s);
  for (const char* b : {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "PRelu"})
    if (op == b) return makeBinary(s);
  if (op == "Concat") return makeConcat(s);
  if (op == "Split") return makeSplit(s);
  if (op == "Reshape" || op == "Flatten" || op == "Identity") return makeCopy(s);
  if (op == "Transpose") return makeTranspose(s);
  if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool") return pick(makeCudnnPool(s, L), makePool, s);
  if (op == "Resize") return makeResize(s);
  if (op == "Softmax") return pick(makeCudnnSoftmax(s, L), makeSoftmax, s);
  if (op == "LayerNormalization") return makeLayerNorm(s);
  if (op == "Pad") return makePad(s);
  if (op == "Gather") return makeGather(s);
  if (op == "Expand") return makeExpand(s);
  if (op == "ReduceSum" || op == "ReduceMean") return makeReduce(s);
  unsupported(s, "no CUDA kernel for op '" + op + "'");
}

size_t CudaBackend::kernelCount() const {
  std::lock_guard<std::mutex> l(mu_);
  return cache_.size();
}

void* CudaBackend::alloc(size_t bytes) {
  check(cudaSetDevice(cuda_.device), "cudaSetDevice");
  void* p = nullptr;
  cudaError_t st = cudaMalloc(&p, std::max<size_t>(bytes, 1));
  if (st != cudaSuccess) {
    cudaGetLastError();
    throw Error("out of device memory allocating " + std::to_string(bytes) + " bytes on " + deviceName_ + ": " + cudaGetErrorString(st));
  }
  return p;
}

void CudaBackend::dealloc(void* p, size_t) {
  if (p) cudaFree(p);
}

void CudaBackend::toDevice(void* dst, const void* src, size_t n) {
  if (!n) return;
  if (CudaStream* s = CudaStream::current()) return s->stageIn(dst, src, n);
  check(cudaSetDevice(cuda_.device), "cudaSetDevice");
  check(cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice), "copy to device");
}

void CudaBackend::toHost(void* dst, const void* src, size_t n) {
  if (!n) return;
  if (CudaStream* s = CudaStream::current()) return s->stageOut(dst, src, n);
  check(cudaSetDevice(cuda_.device), "cudaSetDevice");
  check(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost), "copy to host");
}

std::unique_ptr<Stream> CudaBackend::createStream(int index) { return std::make_unique<CudaStream>(index, *this); }

cudaEvent_t CudaBackend::takeEvent() {
  {
    std::lock_guard<std::mutex> l(poolMu_);
    if (!eventPool_.empty()) {
      cudaEvent_t e = eventPool_.back();
      eventPool_.pop_back();
      return e;
    }
  }
  check(cudaSetDevice(cuda_.device), "cudaSetDevice");
  cudaEvent_t e = nullptr;
  check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate");
  return e;
}

void CudaBackend::giveEvent(cudaEvent_t e) {
  std::lock_guard<std::mutex> l(poolMu_);
  eventPool_.push_back(e);
}

std::unique_ptr<Event> CudaBackend::createEvent() { return std::make_unique<PooledEvent>(*this, takeEvent()); }

json CudaBackend::info() const {
  json j = {{"backend", "cuda"},
            {"device", deviceName_},
            {"deviceIndex", cuda_.device},
            {"cudnn", libs_->cudnnInfo()},
            {"cublas", libs_->cublasInfo()},
            {"staging", cuda_.staging},
            {"completion", "per-op: each kernel completes before the executor's bookkeeping (cuda_context.hpp)"},
            {"streams", opts_.streams}};
  for (auto it = props_.begin(); it != props_.end(); ++it) j[it.key()] = it.value();
  return j;
}

CudaBackend* asCudaBackend(Backend& b) { return dynamic_cast<CudaBackend*>(&b); }

std::unique_ptr<Backend> createCudaBackendWith(const BackendOptions& opts, const CudaOptions& cuda) { return std::make_unique<CudaBackend>(opts, cuda); }

}  // namespace cuda
}  // namespace ts
