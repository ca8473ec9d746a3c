// The CPU backend: oneDNN + own kernels, one worker thread per stream, events as flags with a
// condition variable. oneDNN here is built on OpenMP; each stream thread sets its own OpenMP thread
// count (opThreads, default 1) so an op runs on the stream's thread alone unless asked otherwise.
#include <dnnl.hpp>
#include <omp.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "../backend.hpp"
#include "kernels.hpp"

namespace ts {
namespace cpu {

[[noreturn]] void unsupported(const OpSpec& s, const std::string& why) { throw Error(s.where() + ": unsupported by the CPU backend: " + why); }

void requireF32(const OpSpec& s) {
  for (size_t i = 0; i < s.ins.size(); i++)
    if (s.ins[i].dtype != DType::F32) unsupported(s, "input " + std::to_string(i) + " is " + dtypeName(s.ins[i].dtype) + " (float32 only)");
}

namespace {

/**
 * Set once, waited by any number of streams. The signaller notifies while holding the mutex and a
 * waiter always passes through the mutex before returning, so once every wait has returned no
 * thread touches the event any more: the task can free it at its end.
 */
class CpuEvent : public Event {
 public:
  void signal() {
    std::lock_guard<std::mutex> l(mu_);
    done_.store(true, std::memory_order_release);
    cv_.notify_all();
  }
  void wait() {
    // A short spin catches a producer finishing just now without a sleep/wake round trip.
    for (int i = 0; i < 256 && !done_.load(std::memory_order_acquire); i++) __builtin_ia32_pause();
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return done_.load(std::memory_order_acquire); });
  }

 private:
  std::atomic<bool> done_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

class CpuStream : public Stream {
 public:
  CpuStream(int index, const BackendOptions& o, const dnnl::engine& eng) : index_(index), opts_(o), eng_(eng) { thread_ = std::thread([this] { loop(); }); }
  ~CpuStream() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void submit(const Command* cmds, size_t n) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      queue_.insert(queue_.end(), cmds, cmds + n);
      submitted_ += n;
      waiting_.store(true, std::memory_order_release);
    }
    cv_.notify_one();
  }
  void drain() override {
    std::unique_lock<std::mutex> l(mu_);
    idle_.wait(l, [&] { return done_ == submitted_; });
  }

 private:
  void loop() {
    omp_set_num_threads(opts_.opThreads);
    if (opts_.pin) {
      unsigned n = std::max(1u, std::thread::hardware_concurrency());
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(static_cast<unsigned>(index_) % n, &set);
      pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    }
    cpu::CpuContext ctx(eng_);
    ctx.slot = index_;
    ctx.opThreads = opts_.opThreads;
    std::vector<Command> local;
    for (;;) {
      // A short spin before sleeping: a run submitted just after the last one finished starts
      // without a condition-variable wake-up (tens of µs on a busy VM); bounded, so an idle stream
      // costs nothing after spinUs_.
      if (spinUs_ > 0 && !waiting_.load(std::memory_order_acquire)) {
        auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(spinUs_);
        while (!waiting_.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < until)
          for (int i = 0; i < 64; i++) __builtin_ia32_pause();
      }
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
        waiting_.store(false, std::memory_order_relaxed);
        if (queue_.empty() && stop_) return;
        local.swap(queue_);
      }
      for (const Command& c : local) {
        switch (c.kind) {
          case Command::Kind::Wait:
            static_cast<CpuEvent*>(c.event)->wait();
            break;
          case Command::Kind::Record:
            static_cast<CpuEvent*>(c.event)->signal();
            break;
          case Command::Kind::Call:
            try {
              c.fn(c.arg, ctx);
            } catch (const std::exception& e) {
              // Calls catch their own errors; reaching here is a bug, but the stream must live on.
              std::cerr << "topsched: stream " << index_ << ": uncaught error: " << e.what() << std::endl;
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

  int index_;
  BackendOptions opts_;
  dnnl::engine eng_;
  std::mutex mu_;
  std::condition_variable cv_, idle_;
  std::vector<Command> queue_;
  size_t submitted_ = 0, done_ = 0;
  bool stop_ = false;
  /** Set by submit(), cleared when the stream takes its queue: what the spin watches. */
  std::atomic<bool> waiting_{false};
  int spinUs_ = spinMicros();
  std::thread thread_;

  /** TOPSCHED_STREAM_SPIN_US (default 100; 0 = sleep at once). */
  static int spinMicros() { return static_cast<int>(envNumber("TOPSCHED_STREAM_SPIN_US", 100, 0, 100000, true)); }
};

std::string cpuModel() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) return line.substr(p + 2);
    }
  }
  return "unknown CPU";
}

std::string signature(const OpSpec& s) {
  std::string k = s.op + "|" + s.attrs.dump();
  for (const auto& in : s.ins) k += "|" + shapeStr(in.shape) + dtypeName(in.dtype) + (in.data ? "c" : "a");
  for (size_t i = 0; i < s.outShapes.size(); i++) k += "|>" + shapeStr(s.outShapes[i]) + dtypeName(s.outDtypes[i]);
  k += "|t" + std::to_string(s.threads);
  for (int b : s.inLayout) k += "|b" + std::to_string(b);
  for (int b : s.outLayout) k += "|>b" + std::to_string(b);
  return k;
}

/** TOPSCHED_LAYOUT: 'auto' (default: keep activations between convolutions in the CPU's layout,
 *  probeConvLayout), 'plain' (every tensor as ONNX lays it out; for comparisons), or one layout
 *  to use instead: 'nhwc', 'nChw8c', 'nChw16c'. */
const std::pair<const char*, int> kLayoutNames[] = {
    {"plain", Layout::Plain}, {"nhwc", Layout::ChannelsLast}, {"nChw8c", Layout::Blocked8}, {"nChw16c", Layout::Blocked16}};

int wantedLayout(const dnnl::engine& eng) {
  const char* v = std::getenv("TOPSCHED_LAYOUT");
  std::string s = v ? v : "";
  if (s.empty() || s == "auto") return probeConvLayout(eng);
  for (const auto& [name, code] : kLayoutNames)
    if (s == name) return code;
  throw Error("TOPSCHED_LAYOUT must be 'auto', 'plain', 'nhwc', 'nChw8c' or 'nChw16c', got '" + s + "'");
}

std::string layoutName(int code) {
  for (const auto& [name, c] : kLayoutNames)
    if (c == code) return name;
  return "layout " + std::to_string(code);
}

/** Whether the own chunk-copy Concat / Split serve this op: every tensor plain, or all in one
 *  channel-blocked layout (whose per-image chunks are contiguous as in NCHW, the channel counts being
 *  multiples of the block); channels-last interleaves them and takes oneDNN's kernels. */
bool chunkCopies(const OpSpec& s) {
  const int l = s.inLayoutOf(0);
  if (l == Layout::ChannelsLast) return false;
  for (size_t i = 0; i < s.ins.size(); i++)
    if (s.inLayoutOf(i) != l) return false;
  for (size_t i = 0; i < s.outShapes.size(); i++)
    if (s.outLayoutOf(i) != l) return false;
  return true;
}

/** Which layouts a CPU kernel takes (backend.hpp LayoutRole). Free: the oneDNN convolution and
 *  pooling kernels convert any layout. Tied: elementwise kernels over equal shapes (every layout
 *  without padding puts element i at the same place in each operand), and Concat / Split along
 *  channels (chunkCopies). */
LayoutRole cpuLayoutRole(const OpSpec& s) {
  const std::string& op = s.op;
  if (s.ins.empty() || s.ins[0].shape.size() != 4 || s.ins[0].data != nullptr) return LayoutRole::Plain;
  for (const auto& in : s.ins)
    if (in.dtype != DType::F32) return LayoutRole::Plain;
  if (op == "Conv") return s.ins.size() >= 2 && s.ins[1].data != nullptr ? LayoutRole::Free : LayoutRole::Plain;
  if (op == "MaxPool" || op == "GlobalAveragePool") return LayoutRole::Free;
  // The reference kernel (where count_include_pad meets ceil_mode's extra windows) reads plain;
  // a malformed window is plain here and reported by compile().
  if (op == "AveragePool") {
    try {
      return dnnlPoolFits(s) ? LayoutRole::Free : LayoutRole::Plain;
    } catch (const Error&) {
      return LayoutRole::Plain;
    }
  }
  const Shape& y = s.outShapes[0];
  for (const char* e : {"Relu", "Clip", "Sigmoid", "Tanh", "Gelu", "Sqrt", "Exp", "Log", "Abs", "Neg", "Reciprocal", "LeakyRelu", "HardSwish", "HardSigmoid", "Erf", "Identity"})
    if (op == e) return s.ins[0].shape == y ? LayoutRole::Tied : LayoutRole::Plain;  // Clip's min/max are scalar constants
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Max" || op == "Min") {
    for (const auto& in : s.ins)
      if (in.shape != y || in.data != nullptr) return LayoutRole::Plain;
    return LayoutRole::Tied;
  }
  if (op == "Concat" || op == "Split") {
    int64_t axis = attrInt(s.attrs, "axis", op == "Split" ? 0 : 1, s.where());
    if (axis != 1 && axis != -3) return LayoutRole::Plain;
    for (size_t i = 1; i < s.ins.size(); i++)
      if (op == "Concat" ? s.ins[i].shape.size() != 4 || s.ins[i].data != nullptr : s.ins[i].data == nullptr) return LayoutRole::Plain;
    return LayoutRole::Tied;
  }
  return LayoutRole::Plain;
}

class CpuBackend : public Backend {
 public:
  explicit CpuBackend(const BackendOptions& o) : opts_(o) {
    env_.engine = dnnl::engine(dnnl::engine::kind::cpu, 0);
    env_.slots = std::max(1, o.streams);
    layout_ = wantedLayout(env_.engine);
  }
  int activationLayout() const override { return layout_; }
  LayoutRole layoutRole(const OpSpec& s) const override { return cpuLayoutRole(s); }
  std::string name() const override { return "cpu"; }
  /** Conv / Gemm / MatMul run their epilogue as oneDNN post-ops (dnnl_linear.cpp), and so does an
   *  Add on oneDNN's binary; an Add our own broadcast loop runs gets the composite. */
  bool fusesEpilogue(const OpSpec& s) const override {
    return s.op == "Conv" || s.op == "Gemm" || s.op == "MatMul" || (s.op == "Add" && dnnlBinaryFits(s));
  }
  std::string device() const override { return cpuModel(); }
  bool hostMemory() const override { return true; }

  int kernelThreads() const override { return opts_.opThreads; }
  bool measuresOpThreads() const override { return opts_.opThreadChoice == "measure"; }

  std::shared_ptr<Kernel> compile(const OpSpec& spec) override {
    OpSpec s = spec;
    if (s.threads <= 0) s.threads = opts_.opThreads;
    std::string key = signature(s);
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = cache_.find(key);
      if (it != cache_.end()) return it->second;
    }
    // A primitive's work split (and its choice of kernel) is fixed for the thread count it is
    // built under: build under the count it will run with.
    int saved = omp_get_max_threads();
    omp_set_num_threads(s.threads);
    std::shared_ptr<Kernel> k;
    try {
      k = build(s);
    } catch (...) {
      omp_set_num_threads(saved);
      throw;
    }
    omp_set_num_threads(saved);
    std::lock_guard<std::mutex> l(mu_);
    return cache_.emplace(key, k).first->second;
  }
  size_t kernelCount() const override {
    std::lock_guard<std::mutex> l(mu_);
    return cache_.size();
  }
  void* alloc(size_t bytes) override {
    void* p = std::aligned_alloc(64, (std::max<size_t>(bytes, 1) + 63) / 64 * 64);
    if (!p) throw Error("out of host memory allocating " + std::to_string(bytes) + " bytes");
    return p;
  }
  void dealloc(void* p, size_t) override { std::free(p); }
  void toDevice(void* dst, const void* src, size_t n) override { std::memcpy(dst, src, n); }
  void toHost(void* dst, const void* src, size_t n) override { std::memcpy(dst, src, n); }
  std::unique_ptr<Stream> createStream(int index) override { return std::make_unique<CpuStream>(index, opts_, env_.engine); }
  std::unique_ptr<Event> createEvent() override { return std::make_unique<CpuEvent>(); }
  json info() const override {
    const dnnl_version_t* v = dnnl_version();
    return {{"backend", "cpu"},
            {"device", cpuModel()},
            {"dnnl", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch)},
            {"dnnlCpuRuntime", v->cpu_runtime == DNNL_RUNTIME_OMP ? "omp" : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "seq" : "other"},
            {"isa", static_cast<int>(dnnl_get_effective_cpu_isa())},
            {"hardwareThreads", std::thread::hardware_concurrency()},
            {"streams", opts_.streams},
            {"opThreads", opts_.opThreads},
            {"activationLayout", layoutName(layout_)},
            {"opThreadChoice", opts_.opThreadChoice}};
  }

 private:
  std::shared_ptr<Kernel> build(const OpSpec& s) {
    const std::string& op = s.op;
    if (op == "Conv") return makeConv(s, env_);
    if (op == "ConvTranspose") return makeConvTranspose(s, env_);
    if (op == "Gemm") return makeGemm(s, env_);
    if (op == "MatMul") return makeMatMul(s, env_);
    if (op == "BatchNormalization") return makeBatchNorm(s);
    for (const char* e : {"Relu", "Clip", "Sigmoid", "Tanh", "Gelu", "Sqrt", "Exp", "Log", "Abs", "Neg", "Reciprocal", "LeakyRelu", "HardSwish"})
      if (op == e) return makeEltwise(s, env_);
    if (op == "HardSigmoid" || op == "Erf") return makeOwnUnary(s);
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Max" || op == "Min") {
      auto k = makeDnnlBinary(s, env_);
      return k ? k : makeBroadcastBinary(s);
    }
    if (op == "Pow" || op == "PRelu") return makeBroadcastBinary(s);
    if (op == "Slice") return makeSlice(s);
    if (op == "InstanceNormalization") return makeInstanceNorm(s);
    if (op == "LSTM" || op == "GRU") return makeRnn(s);
    if (op == "Concat") return chunkCopies(s) ? makeConcat(s) : makeLayoutConcat(s, env_);
    if (op == "Split") return chunkCopies(s) ? makeSplit(s) : makeLayoutSplit(s, env_);
    if (op == "Reshape" || op == "Flatten" || op == "Identity") return makeCopy(s);
    if (op == "Transpose") {
      auto k = makeDnnlTranspose(s, env_);
      return k ? k : makeTranspose(s);
    }
    if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool") {
      if (auto own = makeBlockedMaxPool(s)) return own;
      if (auto own = makePlainGlobalAvgPool(s)) return own;
      auto k = makeDnnlPool(s, env_);
      return k ? k : makeRefPool(s);
    }
    if (op == "Resize") return makeResize(s);
    if (op == "Softmax") return makeSoftmax(s, env_);
    if (op == "LayerNormalization") return makeLayerNorm(s, env_);
    if (op == "Pad") return makePad(s);
    if (op == "Gather") return makeGather(s);
    if (op == "Expand") return makeExpand(s);
    if (op == "ReduceSum" || op == "ReduceMean" || op == "ReduceMax") return makeReduce(s, env_);
    unsupported(s, "no CPU kernel for op '" + op + "'");
  }

  BackendOptions opts_;
  DnnlEnv env_;
  int layout_ = Layout::Plain;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Kernel>> cache_;
};

}  // namespace
}  // namespace cpu

std::unique_ptr<Backend> createCpuBackend(const BackendOptions& opts) { return std::make_unique<cpu::CpuBackend>(opts); }

void singleThreadedHelper() { omp_set_num_threads(1); }

}  // namespace ts
