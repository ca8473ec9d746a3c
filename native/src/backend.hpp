// The device abstraction the scheduler is written against. A backend supplies op kernels, in-order
// streams, events between streams and device memory; the executor (executor.cpp) only ever talks to
// these interfaces, so a CUDA backend plugs in next to the CPU one without touching the scheduler.
//
// Stream semantics follow CUDA's: commands run in submission order on one stream; Wait blocks the
// stream until an Event is recorded; Record marks an event once all earlier commands finished; Call
// runs host code on the stream (on CPU it runs the op itself; on a GPU it would launch the kernel).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common.hpp"

namespace ts {

/**
 * Activation layouts in device memory, as codes: Plain is row-major, what ONNX says (NCHW for 4-D);
 * the others are 4-D only: ChannelsLast (NHWC) and channel-blocked with 8 or 16 channels per block
 * (oneDNN's nChw8c / nChw16c, only where C is a multiple of the block). None of them pads, so a
 * tensor has the same size in every layout and the memory planner's sizes hold.
 */
namespace Layout {
constexpr int Plain = 0;
constexpr int ChannelsLast = 1;
constexpr int Blocked8 = 8;
constexpr int Blocked16 = 16;
}  // namespace Layout

/** One input of an op as the kernel compiler sees it: shape, type and, for weights, the values. */
struct OpInputSpec {
  Shape shape;
  DType dtype = DType::F32;
  /** Host pointer to the values when the input is an initializer (constant); null otherwise. */
  const void* data = nullptr;
};

/** Everything needed to build a kernel for one node. */
struct OpSpec {
  std::string id;  // node id, for error messages
  std::string op;  // ONNX op type
  json attrs;
  std::vector<OpInputSpec> ins;
  std::vector<Shape> outShapes;
  std::vector<DType> outDtypes;
  /** Layout of each input / output in device memory (a Layout code). Missing entries are plain. */
  std::vector<int> inLayout, outLayout;
  /** Intra-op threads the kernel is built for (oneDNN fixes a primitive's thread count when it is
   *  created); 0 = the backend's opThreads. */
  int threads = 0;
  int inLayoutOf(size_t i) const { return i < inLayout.size() ? inLayout[i] : 0; }
  int outLayoutOf(size_t i) const { return i < outLayout.size() ? outLayout[i] : 0; }
  std::string where() const { return "node '" + id + "' (" + op + ")"; }
};

/** How a kernel treats the layout of its 4-D activations (see assignLayouts, layout.hpp). */
enum class LayoutRole : uint8_t {
  /** Every activation input and output must be plain. */
  Plain,
  /** Each 4-D activation input and output may take either layout, independently (Conv, Pool:
   *  the kernel converts what it must). */
  Free,
  /** Every 4-D activation input and output shares one layout (elementwise ops on equal shapes,
   *  Concat / Split along channels). */
  Tied,
};

/** Per-stream execution context handed to kernels. */
class ExecContext {
 public:
  virtual ~ExecContext() = default;
  /** Stream index: kernels keep per-stream state (cached memory objects) in this slot. */
  int slot = 0;
  /** Threads one op may use (oneDNN + own kernels); 1 = ops single-threaded on their stream. */
  int opThreads = 1;
  /** Sets the threads of the ops that follow on this stream (a step's own count; see Step::threads). */
  virtual void setOpThreads(int n) { opThreads = n; }
  /** Kernel scratchpad, valid until the next call on this stream. */
  virtual void* scratch(size_t bytes) = 0;
  /** Executor temporaries (the fused output of a merge stage); distinct from scratch(). */
  virtual void* temp(size_t bytes) = 0;
};

/** Arguments of one kernel invocation; pointers are device memory. */
struct KernelArgs {
  const void* const* in;
  void* const* out;
  /** What Kernel::prepare returned for this node (derived constants), or null. */
  const void* consts;
  ExecContext* ctx;
};

/**
 * A compiled op for one (op, attributes, shapes) signature. Kernels are cached and shared by every
 * node and model with the same signature, and may run concurrently on several streams, so run() must
 * only touch per-slot state. Values derived from weights (folded BatchNorm, scaled Gemm bias) live in
 * per-node constants made by prepare().
 */
class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual std::shared_ptr<const void> prepare(const OpSpec& spec) const {
    (void)spec;
    return nullptr;
  }
  virtual void run(const KernelArgs& a) const = 0;
  /** Implementation name, e.g. the oneDNN impl string ("jit:avx2", "ref", "own:concat"). */
  virtual std::string impl() const = 0;
};

class Event {
 public:
  virtual ~Event() = default;
};

struct Command {
  enum class Kind : uint8_t { Wait, Record, Call };
  Kind kind = Kind::Call;
  Event* event = nullptr;
  void (*fn)(void* arg, ExecContext& ctx) = nullptr;
  void* arg = nullptr;
  static Command wait(Event* e) { return {Kind::Wait, e, nullptr, nullptr}; }
  static Command record(Event* e) { return {Kind::Record, e, nullptr, nullptr}; }
  static Command call(void (*fn)(void*, ExecContext&), void* arg) { return {Kind::Call, nullptr, fn, arg}; }
};

class Stream {
 public:
  virtual ~Stream() = default;
  /** Appends commands atomically (all of them, in order, before any later submit). */
  virtual void submit(const Command* cmds, size_t n) = 0;
  /** Blocks until every submitted command has run. */
  virtual void drain() = 0;
};

struct BackendOptions {
  int streams = 1;
  int opThreads = 1;
  /** Pin stream i to core i mod ncores. */
  bool pin = false;
  /** "measure" or "rule" (NativeExecutorOptions.opThreadChoice); empty: TOPSCHED_OP_THREADS, else
   *  "measure". createBackend resolves and checks it before a backend sees it. */
  std::string opThreadChoice;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  /** Human-readable device, e.g. the CPU model. */
  virtual std::string device() const = 0;
  /** Builds (or fetches from the cache) the kernel of a node; throws Error naming node and op. */
  virtual std::shared_ptr<Kernel> compile(const OpSpec& spec) = 0;
  /** Whether compile() runs this node's epilogue (fused_sum / fused_activation) itself; otherwise
   *  compileNode (epilogue.hpp) composes it from the backend's Add and activation kernels. */
  virtual bool fusesEpilogue(const OpSpec& spec) const {
    (void)spec;
    return false;
  }
  /** The intra-op thread count kernels are built for by default (OpSpec::threads = 0), or 0 when
   *  the backend has no such notion (a step's threads then change nothing). */
  virtual int kernelThreads() const { return 0; }
  /** Whether a step with more than one thread to spend (its group's count, else the stream's)
   *  measures one thread against that count (ThreadTrial in plan.hpp). */
  virtual bool measuresOpThreads() const { return false; }
  /** The device's preferred 4-D activation layout (a Layout code): where its fast kernels want their
   *  inputs. Layout::Plain keeps every tensor plain. */
  virtual int activationLayout() const { return 0; }
  virtual LayoutRole layoutRole(const OpSpec& spec) const {
    (void)spec;
    return LayoutRole::Plain;
  }
  /** Number of distinct kernels compiled so far (cache size). */
  virtual size_t kernelCount() const = 0;
  /** Whether device memory is plain host memory (CPU): then weights are not copied twice. */
  virtual bool hostMemory() const = 0;
  virtual void* alloc(size_t bytes) = 0;
  virtual void dealloc(void* p, size_t bytes) = 0;
  /** Synchronous copies between host and device memory (plain memcpy on the CPU). */
  virtual void toDevice(void* dst, const void* src, size_t n) = 0;
  virtual void toHost(void* dst, const void* src, size_t n) = 0;
  virtual std::unique_ptr<Stream> createStream(int index) = 0;
  virtual std::unique_ptr<Event> createEvent() = 0;
  /** Library versions and threading facts, for reports. */
  virtual json info() const = 0;
};

/** "cpu" always; "cuda" when built with TOPSCHED_WITH_CUDA, else an Error saying it is not built. */
std::unique_ptr<Backend> createBackend(const std::string& name, const BackendOptions& opts);

/**
 * Confines the calling helper thread (a loader or preparing thread, not a stream) to one OpenMP
 * thread: the work it does there (weight reorders) then forks no OpenMP team, whose idle threads
 * would count against libgomp's spin budget and make the streams' teams sleep between ops.
 */
void singleThreadedHelper();

}  // namespace ts
