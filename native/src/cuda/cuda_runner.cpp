#include "cuda_runner.hpp"

#include <algorithm>
#include <cstring>

#include "cuda_backend.hpp"

namespace ts::cuda {

namespace {

/** Events owned by one runner state; timing events record time, edge events only order. */
class EventSet {
 public:
  EventSet() = default;
  EventSet(const EventSet&) = delete;
  EventSet& operator=(const EventSet&) = delete;
  ~EventSet() {
    for (cudaEvent_t e : all_) cudaEventDestroy(e);
  }
  cudaEvent_t make(bool timing) {
    cudaEvent_t e = nullptr;
    check(cudaEventCreateWithFlags(&e, timing ? cudaEventDefault : cudaEventDisableTiming), "cudaEventCreate");
    all_.push_back(e);
    return e;
  }

 private:
  std::vector<cudaEvent_t> all_;
};

/** What one (prepared schedule, options) needs across calls: memory, contexts, events, graph. */
struct RunnerState {
  std::weak_ptr<Prepared> prep;
  bool timing = true, useGraph = false, pinned = true;
  DeviceBuffer arena;
  std::vector<void*> ptr;
  // Own contexts (scratch, temp, library handles) on the executor's streams: a graph replays
  // their addresses, so nothing the executor does later may move them.
  std::vector<std::unique_ptr<CudaContext>> ctxs;
  std::vector<cudaStream_t> streams;
  std::vector<uint8_t> hostIn, hostOut;  // the caller's side of the copies
  PinnedBuffer pinIn, pinOut;
  std::vector<size_t> inOff, outOff;
  size_t inBytes = 0, outBytes = 0;
  EventSet events;
  cudaEvent_t tStart = nullptr, tH2D = nullptr, tCompute = nullptr, tEnd = nullptr;
  std::vector<const Step*> steps;
  std::vector<int> stepStream;
  std::vector<cudaEvent_t> opStart, opEnd, edges;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  size_t graphNodes = 0;
  double captureMs = 0, instantiateMs = 0;
  ~RunnerState() {
    if (exec) cudaGraphExecDestroy(exec);
    if (graph) cudaGraphDestroy(graph);
  }
};

double msBetween(cudaEvent_t a, cudaEvent_t b) {
  float ms = 0.f;
  check(cudaEventElapsedTime(&ms, a, b), "cudaEventElapsedTime");
  return ms;
}

json summary(std::vector<double> v) {
  if (v.empty()) return nullptr;
  std::sort(v.begin(), v.end());
  double mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  double median = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  return {{"mean", mean}, {"median", median}, {"min", v.front()}, {"max", v.back()}, {"n", v.size()}};
}

std::shared_ptr<RunnerState> build(CudaBackend& cb, Executor& ex, const std::shared_ptr<Prepared>& p, bool timing, bool useGraph, bool pinned) {
  const Model& m = *p->model;
  auto r = std::make_shared<RunnerState>();
  r->prep = p;
  r->timing = timing, r->useGraph = useGraph, r->pinned = pinned;
  // Memory: the schedule's plan when it has one (valid under the same stage barriers), else one
  // region per activation.
  r->ptr.assign(m.tensors.size(), nullptr);
  std::vector<int64_t> off(m.tensors.size(), -1);
  size_t total = 0;
  if (p->hasPlan) {
    off = p->offsets;
    total = p->arenaBytes;
  } else {
    for (size_t i = 0; i < m.tensors.size(); i++)
      if (m.tensors[i].kind != TensorKind::Weight) off[i] = static_cast<int64_t>(total), total += (m.tensors[i].bytes + 255) / 256 * 256;
  }
  r->arena.reserve(std::max<size_t>(total, 256));
  for (size_t i = 0; i < m.tensors.size(); i++)
    if (off[i] >= 0 && m.tensors[i].kind != TensorKind::Weight) r->ptr[i] = static_cast<uint8_t*>(r->arena.data()) + off[i];
  for (int k = 0; k < ex.streams(); k++) {
    auto* s = dynamic_cast<CudaStream*>(&ex.stream(k));
    if (!s) throw Error("runCuda: stream " + std::to_string(k) + " is not a CUDA stream");
    r->streams.push_back(s->handle());
    r->ctxs.push_back(std::make_unique<CudaContext>(s->handle(), &cb.libs(), cb.deviceIndex()));
    r->ctxs.back()->slot = k;
  }
  for (size_t i = 0; i < m.inputs.size(); i++) {
    r->inOff.push_back(r->inBytes);
    r->inBytes += m.tensors[static_cast<size_t>(m.inputs[i])].bytes;
  }
  for (int o : m.outputs) {
    r->outOff.push_back(r->outBytes);
    r->outBytes += m.tensors[static_cast<size_t>(o)].bytes;
  }
  r->hostIn.resize(r->inBytes);
  r->hostOut.resize(r->outBytes);
  for (size_t i = 0; i < m.inputs.size(); i++)
    if (!m.defaultInputs[i].empty()) std::memcpy(r->hostIn.data() + r->inOff[i], m.defaultInputs[i].data(), m.defaultInputs[i].size());
  if (pinned) {
    r->pinIn.reserve(std::max<size_t>(r->inBytes, 1));
    r->pinOut.reserve(std::max<size_t>(r->outBytes, 1));
  }
  r->tStart = r->events.make(true), r->tH2D = r->events.make(true), r->tCompute = r->events.make(true), r->tEnd = r->events.make(true);
  size_t groups = 0;
  for (const StagePlan& sp : p->stages) {
    for (size_t gi = 0; gi < sp.groups.size(); gi++) {
      groups++;
      for (const Step& st : sp.groups[gi].steps) {
        r->steps.push_back(&st);
        r->stepStream.push_back(static_cast<int>(gi % r->streams.size()));
        if (timing) r->opStart.push_back(r->events.make(true)), r->opEnd.push_back(r->events.make(true));
      }
    }
  }
  for (size_t i = 0; i < 1 + groups + r->streams.size(); i++) r->edges.push_back(r->events.make(false));
  return r;
}

/** Enqueues the stages (no copies) from this thread; capture = recording into a CUDA graph. */
void enqueueStages(RunnerState& r, const Prepared& p, bool timing, bool capture) {
  const Model& m = *p.model;
  const size_t S = r.streams.size();
  auto stamp = [&](cudaEvent_t e, size_t k) {
    // Inside a capture a timing record must become a graph node (external), not an edge.
    check(capture ? cudaEventRecordWithFlags(e, r.streams[k], cudaEventRecordExternal) : cudaEventRecord(e, r.streams[k]), "timing event");
  };
  size_t edge = 0, si = 0;
  cudaEvent_t begin = r.edges[edge++];
  check(cudaEventRecord(begin, r.streams[0]), "fork event");
  std::vector<cudaEvent_t> prev(S, nullptr);
  std::vector<bool> used(S, false);
  prev[0] = begin;
  used[0] = true;
  for (const StagePlan& sp : p.stages) {
    std::vector<cudaEvent_t> cur(S, nullptr);
    for (size_t gi = 0; gi < sp.groups.size(); gi++) {
      size_t k = gi % S;
      used[k] = true;
      for (size_t j = 0; j < S; j++)
        if (j != k && prev[j]) check(cudaStreamWaitEvent(r.streams[k], prev[j], 0), "stage barrier");
      for (const Step& st : sp.groups[gi].steps) {
        if (timing) stamp(r.opStart[si], k);
        Executor::execStep(m, st, r.ptr, *r.ctxs[k]);
        if (timing) stamp(r.opEnd[si], k);
        si++;
      }
      cudaEvent_t e = r.edges[edge++];
      check(cudaEventRecord(e, r.streams[k]), "group event");
      cur[k] = e;
    }
    prev = cur;
  }
  // Join every stream that ran anything back into stream 0 (a capture must end joined).
  for (size_t k = 1; k < S; k++) {
    if (!used[k]) continue;
    cudaEvent_t e = r.edges[edge++];
    check(cudaEventRecord(e, r.streams[k]), "join event");
    check(cudaStreamWaitEvent(r.streams[0], e, 0), "join");
  }
}

/** One iteration: staged H2D, the stages (graph or direct), D2H; returns host wall ms. */
double iterate(RunnerState& r, const Prepared& p) {
  const Model& m = *p.model;
  cudaStream_t s0 = r.streams[0];
  int64_t t0 = nowNs();
  check(cudaEventRecord(r.tStart, s0), "timing event");
  const uint8_t* in = r.hostIn.data();
  if (r.pinned) {
    std::memcpy(r.pinIn.data(), r.hostIn.data(), r.inBytes);  // the host's part of pinned staging
    in = static_cast<const uint8_t*>(r.pinIn.data());
  }
  for (size_t i = 0; i < m.inputs.size(); i++) {
    const TensorInfo& ti = m.tensors[static_cast<size_t>(m.inputs[i])];
    if (ti.bytes) check(cudaMemcpyAsync(r.ptr[static_cast<size_t>(m.inputs[i])], in + r.inOff[i], ti.bytes, cudaMemcpyHostToDevice, s0), "input copy");
  }
  check(cudaEventRecord(r.tH2D, s0), "timing event");
  if (r.exec) check(cudaGraphLaunch(r.exec, s0), "cudaGraphLaunch");
  else enqueueStages(r, p, r.timing, false);
  check(cudaEventRecord(r.tCompute, s0), "timing event");
  uint8_t* out = r.pinned ? static_cast<uint8_t*>(r.pinOut.data()) : r.hostOut.data();
  for (size_t i = 0; i < m.outputs.size(); i++) {
    const TensorInfo& ti = m.tensors[static_cast<size_t>(m.outputs[i])];
    if (ti.bytes) check(cudaMemcpyAsync(out + r.outOff[i], r.ptr[static_cast<size_t>(m.outputs[i])], ti.bytes, cudaMemcpyDeviceToHost, s0), "output copy");
  }
  check(cudaEventRecord(r.tEnd, s0), "timing event");
  check(cudaStreamSynchronize(s0), "run");
  if (r.pinned) std::memcpy(r.hostOut.data(), r.pinOut.data(), r.outBytes);
  return static_cast<double>(nowNs() - t0) / 1e6;
}

void checkFlags(RunnerState& r) {
  for (auto& c : r.ctxs)
    if (c->takeError()) throw Error("runCuda: a Gather index was out of range during the run");
}

}  // namespace

json runCudaSchedule(Executor& ex, const std::shared_ptr<Prepared>& p, const json& opts, std::vector<std::vector<uint8_t>>* outputs) {
  CudaBackend* cb = asCudaBackend(ex.backend());
  if (!cb) throw Error("runCuda needs an executor on the 'cuda' backend, this one runs '" + ex.backend().name() + "'");
  const int iterations = std::max(1, opts.value("iterations", 10)), warmup = std::max(0, opts.value("warmup", 2));
  const bool useGraph = opts.value("cudaGraph", false), timing = opts.value("timing", true), wantOut = opts.value("outputs", false);
  const std::string staging = opts.value("staging", cb->cudaOptions().staging);
  if (staging != "pinned" && staging != "pageable") throw Error("runCuda: staging '" + staging + "' is not one of pinned, pageable");
  const Model& m = *p->model;
  ex.drain();  // the streams are shared with the executor: it must be idle
  check(cudaSetDevice(cb->deviceIndex()), "cudaSetDevice");

  std::lock_guard<std::mutex> lock(cb->runnerMu);
  for (auto it = cb->runnerCache.begin(); it != cb->runnerCache.end();) {
    if (std::static_pointer_cast<RunnerState>(it->second)->prep.expired()) it = cb->runnerCache.erase(it);
    else ++it;
  }
  std::string key = std::to_string(reinterpret_cast<uintptr_t>(p.get())) + (timing ? "|t" : "|-") + (useGraph ? "|g" : "|-") + "|" + staging;
  std::shared_ptr<RunnerState> r;
  auto it = cb->runnerCache.find(key);
  bool fresh = it == cb->runnerCache.end();
  if (fresh) {
    r = build(*cb, ex, p, timing, useGraph, staging == "pinned");
    // First pass with every op synchronous: sizes scratch, creates library handles and loads the
    // kernel modules outside any capture, and surfaces an op's error at that op.
    for (auto& c : r->ctxs) c->syncEachOp = true;
    iterate(*r, *p);
    for (auto& c : r->ctxs) c->syncEachOp = false;
    checkFlags(*r);
    if (useGraph) {
      int64_t c0 = nowNs();
      check(cudaStreamBeginCapture(r->streams[0], cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
      try {
        enqueueStages(*r, *p, timing, true);
      } catch (...) {
        cudaGraph_t g = nullptr;
        cudaStreamEndCapture(r->streams[0], &g);  // leave the stream usable
        if (g) cudaGraphDestroy(g);
        throw;
      }
      check(cudaStreamEndCapture(r->streams[0], &r->graph), "cudaStreamEndCapture");
      int64_t c1 = nowNs();
      check(cudaGraphInstantiate(&r->exec, r->graph, 0), "cudaGraphInstantiate");
      r->captureMs = static_cast<double>(c1 - c0) / 1e6;
      r->instantiateMs = static_cast<double>(nowNs() - c1) / 1e6;
      check(cudaGraphGetNodes(r->graph, nullptr, &r->graphNodes), "cudaGraphGetNodes");
    }
    cb->runnerCache[key] = r;
  } else {
    r = std::static_pointer_cast<RunnerState>(it->second);
  }

  for (int i = 0; i < warmup; i++) iterate(*r, *p);
  std::vector<double> wall, gpu, h2d, compute, d2h;
  for (int i = 0; i < iterations; i++) {
    wall.push_back(iterate(*r, *p));
    gpu.push_back(msBetween(r->tStart, r->tEnd));
    h2d.push_back(msBetween(r->tStart, r->tH2D));
    compute.push_back(msBetween(r->tH2D, r->tCompute));
    d2h.push_back(msBetween(r->tCompute, r->tEnd));
  }
  checkFlags(*r);

  json ops = json::array(), stages = json::array();
  if (timing) {
    std::vector<std::pair<double, double>> stepTimes;
    for (size_t i = 0; i < r->steps.size(); i++) stepTimes.emplace_back(msBetween(r->tStart, r->opStart[i]), msBetween(r->tStart, r->opEnd[i]));
    size_t si = 0;
    for (const StagePlan& sp : p->stages) {
      double s = 1e300, e = 0;
      for (const GroupPlan& g : sp.groups)
        for (size_t k = 0; k < g.steps.size(); k++, si++) {
          for (int n : r->steps[si]->nodes)
            ops.push_back({{"node", m.nodes[static_cast<size_t>(n)].id}, {"stream", r->stepStream[si]}, {"startMs", stepTimes[si].first}, {"endMs", stepTimes[si].second}});
          s = std::min(s, stepTimes[si].first), e = std::max(e, stepTimes[si].second);
        }
      stages.push_back({{"startMs", s}, {"endMs", e}});
    }
  }
  if (wantOut && outputs) {
    outputs->clear();
    for (size_t i = 0; i < m.outputs.size(); i++) {
      const uint8_t* b = r->hostOut.data() + r->outOff[i];
      outputs->emplace_back(b, b + m.tensors[static_cast<size_t>(m.outputs[i])].bytes);
    }
  }
  return {{"model", m.name},
          {"batch", m.batch},
          {"device", cb->device()},
          {"cudaGraph", useGraph},
          {"staging", staging},
          {"streams", r->streams.size()},
          {"memory", p->hasPlan ? "planned" : "distinct"},
          {"iterations", iterations},
          {"warmup", warmup},
          {"reusedState", !fresh},
          {"wallMs", summary(wall)},
          {"gpuMs", summary(gpu)},
          {"h2dMs", summary(h2d)},
          {"computeMs", summary(compute)},
          {"d2hMs", summary(d2h)},
          {"graphNodes", r->graphNodes},
          {"captureMs", r->captureMs},
          {"instantiateMs", r->instantiateMs},
          {"ops", ops},
          {"stages", stages}};
}

}  // namespace ts::cuda
