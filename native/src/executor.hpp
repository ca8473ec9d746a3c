// The executor: a pool of S streams shared by every task in flight. A run is a batch of tasks (one
// model + prepared schedule each); each task's stages are enqueued in order, the groups of a stage
// on distinct streams, with events for every cross-stream edge (stage barriers). Submission is
// serialized, so every Wait refers to a Record enqueued earlier in the global order and the streams
// cannot deadlock. Completion is reported through a callback on the stream that ends the last task.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "memory.hpp"
#include "plan.hpp"

namespace ts {

enum class MemMode : uint8_t { Planned, Caching, Trace };
MemMode parseMemMode(const std::string& s);
const char* memModeName(MemMode m);

struct OpRecord {
  int64_t start = 0, end = 0;
  int stream = -1;
  int threads = 0;
};

struct TraceRecord {
  int64_t allocNs = -1, freeNs = -1;
  int allocSeq = -1, freeSeq = -1;
};

struct RunState;
struct TaskState;

/** Argument of one step's Call command. */
struct StepCall {
  TaskState* task;
  const Step* step;
  int stream;
};

struct GroupRecord {
  int stage, group, stream;
};

struct TaskState {
  RunState* run = nullptr;
  int index = 0;
  std::shared_ptr<Prepared> prep;
  MemMode mode = MemMode::Caching;
  bool wantOutputs = false;
  /** Input values (host) given by the caller; empty entries use the model's defaults. */
  std::vector<std::vector<uint8_t>> inputs;

  ArenaPool::Lease arena;
  std::vector<void*> ptr;  // per tensor, device memory of activations
  std::unique_ptr<std::atomic<int>[]> refs;
  /** In-place Concats apply ('caching' memory of a model that has some; inplace.cpp): per Concat
   *  output, its allocation and how many of it and its slices still hold it (under sliceMu). */
  bool slicing = false;
  /** Graph inputs are read where the task holds them (host memory; not traced), not copied. */
  bool borrowsInputs = false;
  std::vector<void*> blocks;
  std::vector<int> holds;
  std::mutex sliceMu;
  std::vector<OpRecord> ops;       // per node
  std::vector<TraceRecord> trace;  // per tensor (trace mode)
  std::atomic<int> seq{0};
  std::vector<std::unique_ptr<Event>> events;
  std::vector<StepCall> calls;
  std::vector<GroupRecord> groups;
  std::atomic<bool> failed{false};
  /** Some step took a ThreadTrial turn in this task. */
  std::atomic<bool> measuringThreads{false};
  std::mutex errMu;
  std::string error;
  int64_t beginNs = 0, endNs = 0;
  std::vector<std::vector<uint8_t>> outputs;
  void fail(const std::string& msg);
};

class Executor;

struct RunState {
  Executor* executor = nullptr;
  std::vector<std::unique_ptr<TaskState>> tasks;
  std::atomic<int> pending{0};
  int64_t submitNs = 0;
  /** Streams this run may use (the first N of the pool); 0 = all. */
  int streamLimit = 0;
  /** Called once, on a stream thread, after the last task ended. */
  std::function<void(RunState*)> onDone;
};

class Executor {
 public:
  Executor(const std::string& backend, const BackendOptions& opts);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  Backend& backend() { return *backend_; }
  const BackendOptions& options() const { return opts_; }
  int streams() const { return static_cast<int>(streams_.size()); }
  Stream& stream(int i) { return *streams_[static_cast<size_t>(i)]; }
  int64_t epochNs() const { return epoch_; }

  std::shared_ptr<Model> load(const json& doc, const uint8_t* buf, size_t len);
  std::shared_ptr<Prepared> prepare(const std::shared_ptr<Model>& m, const json& doc);
  /** Makes a task; inputs (one host blob per graph input, empty = default) are checked here. */
  std::unique_ptr<TaskState> makeTask(std::shared_ptr<Prepared> p, MemMode mode, bool wantOutputs, std::vector<std::vector<uint8_t>> inputs);
  /** Enqueues every task of the run; the run must stay alive until onDone. */
  void submit(RunState* run);
  /** Submits and blocks until the run is done (tools without an event loop: runner, cuda-bench). Sets run.onDone. */
  void runBlocking(RunState& run);
  /** Blocks until every stream is idle. */
  void drain();

  /** Runs one step with tensor pointers `ptr` (weights are read from the model). */
  /** Runs one step on the calling stream and returns the intra-op threads it ran with. `variant` (a
   *  ThreadTrial's turn: 0 the stream's threads, 1 one thread) overrides the step's settled choice;
   *  -1 takes it (the FLOP rule until settled). */
  static int execStep(const Model& m, const Step& st, const std::vector<void*>& ptr, ExecContext& ctx, int variant = -1);

  ArenaPool& arenas() { return arenas_; }
  CachingAllocator& caching() { return caching_; }

 private:
  static void taskBegin(void* arg, ExecContext& ctx);
  static void runStep(void* arg, ExecContext& ctx);
  static void taskEnd(void* arg, ExecContext& ctx);
  void* allocTensor(TaskState& t, int tensor);
  void freeTensor(TaskState& t, int tensor);
  /** allocTensor / freeTensor of a Concat output or one of its slices while t.slicing. */
  void* allocSliced(TaskState& t, int tensor);
  void freeSliced(TaskState& t, int tensor);

  BackendOptions opts_;
  std::unique_ptr<Backend> backend_;
  ArenaPool arenas_;
  CachingAllocator caching_;
  std::vector<std::unique_ptr<Stream>> streams_;
  std::unique_ptr<std::atomic<int64_t>[]> pendingCost_;
  std::mutex submitMu_;
  int64_t epoch_;
};

/** The report of a finished run (timestamps in µs since the executor's epoch), as JSON text; with
 *  `timeline` false it leaves out the per-op, per-stage and per-group records (reportTimeline). */
std::string reportJson(const Executor& ex, const RunState& run, bool timeline);
/**
 * Those records as numbers, per task that did not fail: task index, node count N, stage count S,
 * group count G; N × (startUs, endUs, stream, threads) by node; S × (startUs, endUs);
 * G × (stage, group, stream, first node, last node). The addon hands these to JS, which builds the
 * records only when read: a report written and parsed as JSON cost ~0.2 ms per run of MobileNetV2.
 */
std::vector<double> reportTimeline(const Executor& ex, const RunState& run);
/** The same report as a document, for C++ callers. */
json buildReport(const Executor& ex, const RunState& run);

}  // namespace ts
