#include "executor.hpp"

#include <cstdlib>

#include <algorithm>
#include <condition_variable>
#include <climits>

namespace ts {

MemMode parseMemMode(const std::string& s) {
  if (s == "planned") return MemMode::Planned;
  if (s == "caching") return MemMode::Caching;
  if (s == "trace") return MemMode::Trace;
  throw Error("memory mode '" + s + "' is not one of planned, trace, caching");
}

const char* memModeName(MemMode m) { return m == MemMode::Planned ? "planned" : m == MemMode::Trace ? "trace" : "caching"; }

void TaskState::fail(const std::string& msg) {
  std::lock_guard<std::mutex> l(errMu);
  if (error.empty()) error = msg;
  failed.store(true, std::memory_order_release);
}

Executor::Executor(const std::string& backend, const BackendOptions& opts)
    : opts_(opts), backend_(createBackend(backend, opts)), arenas_(*backend_), caching_(*backend_), epoch_(nowNs()) {
  pendingCost_.reset(new std::atomic<int64_t>[static_cast<size_t>(opts.streams)]);
  for (int i = 0; i < opts.streams; i++) {
    pendingCost_[static_cast<size_t>(i)] = 0;
    streams_.push_back(backend_->createStream(i));
  }
}

Executor::~Executor() { drain(); }

void Executor::drain() {
  for (auto& s : streams_) s->drain();
}

std::shared_ptr<Model> Executor::load(const json& doc, const uint8_t* buf, size_t len) { return loadModel(doc, buf, len, *backend_); }

std::shared_ptr<Prepared> Executor::prepare(const std::shared_ptr<Model>& m, const json& doc) { return ts::prepare(m, doc, *backend_); }

std::unique_ptr<TaskState> Executor::makeTask(std::shared_ptr<Prepared> p, MemMode mode, bool wantOutputs, std::vector<std::vector<uint8_t>> inputs) {
  const Model& m = *p->model;
  if (mode == MemMode::Planned && !p->hasPlan) throw Error("memory 'planned' needs a memory plan for '" + m.name + "' (prepare it with a plan)");
  if (!inputs.empty() && inputs.size() != m.inputs.size()) {
    throw Error("model '" + m.name + "' has " + std::to_string(m.inputs.size()) + " inputs, got " + std::to_string(inputs.size()));
  }
  for (size_t i = 0; i < inputs.size(); i++) {
    const TensorInfo& ti = m.tensors[static_cast<size_t>(m.inputs[i])];
    if (!inputs[i].empty() && inputs[i].size() != ti.bytes) {
      throw Error("input '" + ti.name + "' of '" + m.name + "' needs " + std::to_string(ti.bytes) + " bytes (" + dtypeName(ti.dtype) + " " + shapeStr(ti.shape) + "), got " +
                  std::to_string(inputs[i].size()));
    }
  }
  auto t = std::make_unique<TaskState>();
  t->prep = std::move(p);
  t->mode = mode;
  t->wantOutputs = wantOutputs;
  t->inputs = std::move(inputs);
  return t;
}

void Executor::runBlocking(RunState& run) {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  run.onDone = [&](RunState*) {
    std::lock_guard<std::mutex> l(mu);
    done = true;
    cv.notify_all();
  };
  submit(&run);
  std::unique_lock<std::mutex> l(mu);
  cv.wait(l, [&] { return done; });
}

void Executor::submit(RunState* run) {
  if (run->streamLimit > streams()) throw Error("run asks for " + std::to_string(run->streamLimit) + " streams; the executor has " + std::to_string(streams()));
  const int S = run->streamLimit > 0 ? run->streamLimit : streams();
  run->submitNs = nowNs();
  run->executor = this;
  run->pending.store(static_cast<int>(run->tasks.size()));
  std::vector<std::vector<Command>> cmds(static_cast<size_t>(S));
  std::lock_guard<std::mutex> lock(submitMu_);
  for (size_t ti = 0; ti < run->tasks.size(); ti++) {
    TaskState& t = *run->tasks[ti];
    t.run = run;
    t.index = static_cast<int>(ti);
    const Prepared& p = *t.prep;
    const Model& m = *p.model;
    t.ptr.assign(m.tensors.size(), nullptr);
    t.slicing = t.mode == MemMode::Caching && m.inPlaceConcats > 0;
    t.borrowsInputs = t.mode != MemMode::Trace && backend_->hostMemory();  // a trace records every allocation
    if (t.slicing) t.blocks.assign(m.tensors.size(), nullptr), t.holds.assign(m.tensors.size(), 0);
    t.ops.assign(m.nodes.size(), OpRecord{});
    if (t.mode == MemMode::Trace) t.trace.assign(m.tensors.size(), TraceRecord{});
    t.refs.reset(new std::atomic<int>[m.tensors.size()]);
    t.calls.reserve(p.stepCount);
    // Home stream: least estimated pending work; ties go to stream ti (mod S), so equal tasks of a
    // run spread over streams while a lone task on an idle executor always starts on stream 0.
    // Rotating lone tasks instead made every stream build an OpenMP team for a hybrid schedule's
    // multi-threaded stages, and teams outnumbering the cores make libgomp stop spinning
    // (native/loader.ts): NASNet-A Mobile's hybrid schedule then lost to sequential 2-thread ops.
    int home = 0;
    int64_t best = INT64_MAX;
    for (int k = 0; k < S; k++) {
      int s = static_cast<int>((ti + static_cast<size_t>(k)) % static_cast<size_t>(S));
      int64_t c = pendingCost_[static_cast<size_t>(s)].load();
      if (c < best) best = c, home = s;
    }
    auto event = [&]() {
      t.events.push_back(backend_->createEvent());
      return t.events.back().get();
    };
    Event* begin = event();
    cmds[static_cast<size_t>(home)].push_back(Command::call(&Executor::taskBegin, &t));
    cmds[static_cast<size_t>(home)].push_back(Command::record(begin));
    // The previous stage's last event on each stream (in-order streams need only the last one).
    std::vector<Event*> prev(static_cast<size_t>(S), nullptr);
    prev[static_cast<size_t>(home)] = begin;
    for (size_t si = 0; si < p.stages.size(); si++) {
      const StagePlan& sp = p.stages[si];
      std::vector<Event*> cur(static_cast<size_t>(S), nullptr);
      for (size_t gi = 0; gi < sp.groups.size(); gi++) {
        const GroupPlan& g = sp.groups[gi];
        int k = static_cast<int>((static_cast<size_t>(home) + gi) % static_cast<size_t>(S));
        auto& q = cmds[static_cast<size_t>(k)];
        for (int j = 0; j < S; j++)
          if (j != k && prev[static_cast<size_t>(j)]) q.push_back(Command::wait(prev[static_cast<size_t>(j)]));
        for (const Step& st : g.steps) {
          t.calls.push_back({&t, &st, k});
          q.push_back(Command::call(&Executor::runStep, &t.calls.back()));
        }
        Event* e = event();
        q.push_back(Command::record(e));
        cur[static_cast<size_t>(k)] = e;
        for (const Step& st : g.steps) pendingCost_[static_cast<size_t>(k)] += static_cast<int64_t>(st.cost);
        t.groups.push_back({static_cast<int>(si), static_cast<int>(gi), k});
      }
      prev = cur;
    }
    auto& q = cmds[static_cast<size_t>(home)];
    for (int j = 0; j < S; j++)
      if (j != home && prev[static_cast<size_t>(j)]) q.push_back(Command::wait(prev[static_cast<size_t>(j)]));
    q.push_back(Command::call(&Executor::taskEnd, &t));
  }
  for (int k = 0; k < S; k++)
    if (!cmds[static_cast<size_t>(k)].empty()) streams_[static_cast<size_t>(k)]->submit(cmds[static_cast<size_t>(k)].data(), cmds[static_cast<size_t>(k)].size());
}

void* Executor::allocTensor(TaskState& t, int tensor) {
  const TensorInfo& ti = t.prep->model->tensors[static_cast<size_t>(tensor)];
  if (t.slicing && (ti.sliceOf >= 0 || ti.slices > 0)) return allocSliced(t, tensor);
  void* p = caching_.alloc(ti.bytes);
  t.ptr[static_cast<size_t>(tensor)] = p;
  if (t.mode == MemMode::Trace) {
    TraceRecord& r = t.trace[static_cast<size_t>(tensor)];
    r.allocNs = nowNs();
    r.allocSeq = t.seq.fetch_add(1);
  }
  return p;
}

// The Concat output is allocated by whichever of it and its slices comes first (slices may be
// produced on several streams at once) and freed when the last of them is freed, so a slice read
// after the Concat's own readers are done keeps its memory.
void* Executor::allocSliced(TaskState& t, int tensor) {
  const Model& m = *t.prep->model;
  const TensorInfo& ti = m.tensors[static_cast<size_t>(tensor)];
  const int out = ti.sliceOf >= 0 ? ti.sliceOf : tensor;
  std::lock_guard<std::mutex> l(t.sliceMu);
  void*& block = t.blocks[static_cast<size_t>(out)];
  if (!block) {
    block = caching_.alloc(m.tensors[static_cast<size_t>(out)].bytes);
    t.holds[static_cast<size_t>(out)] = m.tensors[static_cast<size_t>(out)].slices + 1;
  }
  void* p = static_cast<uint8_t*>(block) + (ti.sliceOf >= 0 ? ti.sliceOffset : 0);
  t.ptr[static_cast<size_t>(tensor)] = p;
  return p;
}

void Executor::freeSliced(TaskState& t, int tensor) {
  const TensorInfo& ti = t.prep->model->tensors[static_cast<size_t>(tensor)];
  const int out = ti.sliceOf >= 0 ? ti.sliceOf : tensor;
  std::lock_guard<std::mutex> l(t.sliceMu);
  t.ptr[static_cast<size_t>(tensor)] = nullptr;
  void*& block = t.blocks[static_cast<size_t>(out)];
  if (block && --t.holds[static_cast<size_t>(out)] == 0) caching_.free(block), block = nullptr;
}

void Executor::freeTensor(TaskState& t, int tensor) {
  void*& p = t.ptr[static_cast<size_t>(tensor)];
  if (!p) return;
  if (t.borrowsInputs && t.prep->model->tensors[static_cast<size_t>(tensor)].kind == TensorKind::Input) {
    p = nullptr;
    return;
  }
  if (t.slicing) {
    const TensorInfo& ti = t.prep->model->tensors[static_cast<size_t>(tensor)];
    if (ti.sliceOf >= 0 || ti.slices > 0) return freeSliced(t, tensor);
  }
  caching_.free(p);
  p = nullptr;
  if (t.mode == MemMode::Trace) {
    TraceRecord& r = t.trace[static_cast<size_t>(tensor)];
    r.freeNs = nowNs();
    r.freeSeq = t.seq.fetch_add(1);
  }
}

void Executor::taskBegin(void* arg, ExecContext&) {
  auto& t = *static_cast<TaskState*>(arg);
  Executor& ex = *t.run->executor;
  const Prepared& p = *t.prep;
  const Model& m = *p.model;
  t.beginNs = nowNs();
  for (size_t i = 0; i < m.tensors.size(); i++) t.refs[i].store(p.useCount[i], std::memory_order_relaxed);
  try {
    if (t.mode == MemMode::Planned) {
      t.arena = ex.arenas_.acquire(p.arenaBytes);
      auto* base = static_cast<uint8_t*>(t.arena.ptr);
      for (size_t i = 0; i < m.tensors.size(); i++)
        if (p.offsets[i] >= 0) t.ptr[i] = base + p.offsets[i];
    } else if (!t.borrowsInputs) {
      for (int in : m.inputs) ex.allocTensor(t, in);
    }
    for (size_t i = 0; i < m.inputs.size(); i++) {
      const auto& src = i < t.inputs.size() && !t.inputs[i].empty() ? t.inputs[i] : m.defaultInputs[i];
      // Ops only read graph inputs, so in host memory they read the task's own copy (or the
      // model's defaults) in place: no second copy of a 4.8 MB batch-8 image per run.
      if (t.borrowsInputs) t.ptr[static_cast<size_t>(m.inputs[i])] = const_cast<uint8_t*>(src.data());
      else ex.backend_->toDevice(t.ptr[static_cast<size_t>(m.inputs[i])], src.data(), src.size());
    }
  } catch (const std::exception& e) {
    t.fail(std::string("task start: ") + e.what());
  }
}

/**
 * The FLOP rule (opThreadChoice 'rule', and a measured step the profiler runs before it settled):
 * the schedule's count for its group, else the stream's opThreads, except that an op under
 * TOPSCHED_SMALL_OP_FLOPS (default 4 MFLOP) runs on one thread, where forking an OpenMP team costs
 * more than it saves (measured on the 2-core EPYC: 2-thread ops made the PaddleOCR detector 21 %
 * slower than 1-thread ops before this rule).
 */
static int stepThreads(const Step& st, int streamThreads) {
  if (st.threads > 0) return st.threads;
  return streamThreads > 1 && st.flops < smallOpFlops() ? 1 : streamThreads;
}

int Executor::execStep(const Model& m, const Step& st, const std::vector<void*>& ptr, ExecContext& ctx, int variant) {
  // The step's thread count for its duration; the stream's own count is restored after.
  const int base = ctx.opThreads;
  // A measured step (ThreadTrial) runs its turn, else its settled choice, else the FLOP rule.
  int single = -1;
  if (st.trial) {
    single = variant >= 0 ? variant : st.trial->decided.load(std::memory_order_acquire);
    if (single < 0) single = stepThreads(st, base) == 1 ? 1 : 0;
  }
  const int want = single < 0 ? stepThreads(st, base) : single == 1 ? 1 : st.threads > 0 ? st.threads : base;
  if (want != base) ctx.setOpThreads(want);
  struct Restore {
    ExecContext& c;
    int n;
    ~Restore() {
      if (c.opThreads != n) c.setOpThreads(n);
    }
  } restore{ctx, base};
  // Reused per thread: a dispatch allocates nothing once warm.
  thread_local std::vector<const void*> ins;
  thread_local std::vector<void*> outs;
  const NodeInfo& n0 = m.nodes[static_cast<size_t>(st.nodes[0])];
  outs.clear();
  for (int w : st.writes) outs.push_back(ptr[static_cast<size_t>(w)]);
  if (st.merge) {
    const MergedConv& mc = *st.merge;
    const void* in3[3] = {ptr[static_cast<size_t>(n0.inputs[0])], mc.weights, static_cast<const uint8_t*>(mc.weights) + mc.biasOffset};
    void* fused = ctx.temp(static_cast<size_t>(numel(mc.fusedShape)) * 4);
    mc.kernel->run({in3, &fused, mc.consts.get(), &ctx});
    const void* f = fused;
    mc.split->run({&f, outs.data(), nullptr, &ctx});
    return want;
  }
  ins.clear();
  for (int in : n0.inputs) {
    const TensorInfo& ti = m.tensors[static_cast<size_t>(in)];
    ins.push_back(ti.kind == TensorKind::Weight ? m.weightPtr(in) : ptr[static_cast<size_t>(in)]);
  }
  // The step's own kernel when it runs with another thread count than the node was built for.
  if (single == 1)
    st.trial->kernel->run({ins.data(), outs.data(), st.trial->consts.get(), &ctx});
  else if (st.kernel)
    st.kernel->run({ins.data(), outs.data(), st.consts.get(), &ctx});
  else
    n0.kernel->run({ins.data(), outs.data(), n0.consts.get(), &ctx});
  return want;
}

void Executor::runStep(void* arg, ExecContext& ctx) {
  auto& c = *static_cast<StepCall*>(arg);
  TaskState& t = *c.task;
  const Step& st = *c.step;
  Executor& ex = *t.run->executor;
  const Prepared& p = *t.prep;
  const Model& m = *p.model;
  bool dynamic = t.mode != MemMode::Planned;
  if (!t.failed.load(std::memory_order_acquire)) {
    try {
      if (dynamic)
        for (int o : st.writes) ex.allocTensor(t, o);
      // An in-place Concat's inputs were written into its output by their producers.
      const int n0 = st.nodes[0];
      const bool skip = !st.merge && ((t.slicing && m.nodes[static_cast<size_t>(n0)].inPlaceConcat) || (t.mode == MemMode::Planned && !p.slicedConcat.empty() && p.slicedConcat[static_cast<size_t>(n0)]));
      const int variant = st.trial && !skip ? st.trial->next() : -1;
      int64_t start = nowNs();
      const int threads = skip ? 1 : execStep(m, st, t.ptr, ctx, variant);
      int64_t end = skip ? start : nowNs();
      if (variant >= 0) {
        st.trial->record(variant, end - start);
        t.measuringThreads.store(true, std::memory_order_relaxed);
      }
      for (int nd : st.nodes) t.ops[static_cast<size_t>(nd)] = {start, end, c.stream, threads};
    } catch (const std::exception& e) {
      t.fail(m.nodes[static_cast<size_t>(st.nodes[0])].where() + ": " + e.what());
    }
  }
  if (dynamic) {
    for (int w : st.writes)
      if (p.useCount[static_cast<size_t>(w)] == 0) ex.freeTensor(t, w);  // an output nobody reads
    for (int r : st.reads)
      if (t.refs[static_cast<size_t>(r)].fetch_sub(1, std::memory_order_acq_rel) == 1) ex.freeTensor(t, r);
  }
  ex.pendingCost_[static_cast<size_t>(c.stream)] -= static_cast<int64_t>(st.cost);
}

void Executor::taskEnd(void* arg, ExecContext&) {
  auto& t = *static_cast<TaskState*>(arg);
  Executor& ex = *t.run->executor;
  const Model& m = *t.prep->model;
  if (t.wantOutputs && !t.failed.load()) {
    try {
      for (int o : m.outputs) {
        const TensorInfo& ti = m.tensors[static_cast<size_t>(o)];
        t.outputs.emplace_back(ti.bytes);
        ex.backend_->toHost(t.outputs.back().data(), t.ptr[static_cast<size_t>(o)], ti.bytes);
      }
    } catch (const std::exception& e) {
      t.fail(std::string("copying outputs: ") + e.what());
    }
  }
  if (t.mode == MemMode::Planned) {
    ex.arenas_.release(t.arena);
    t.arena = {};
  } else {
    for (size_t i = 0; i < m.tensors.size(); i++)
      if (m.tensors[i].kind != TensorKind::Weight) ex.freeTensor(t, static_cast<int>(i));
    // A failed task may leave a Concat output held for slices that were never written.
    for (void*& block : t.blocks)
      if (block) ex.caching_.free(block), block = nullptr;
  }
  t.endNs = nowNs();
  RunState* run = t.run;
  // Nothing of the run may be touched after the last task's decrement: onDone may free it.
  if (run->pending.fetch_sub(1) == 1) run->onDone(run);
}

}  // namespace ts
