// RunReport: per op (node, stream, task, start, end), per stage and per task times, memory figures
// (arena, LOAD = peak of live activation bytes over the run's measured timeline, naive sum) and, in
// trace mode, every activation's alloc/free events.
#include <algorithm>

#include "executor.hpp"

namespace ts {

namespace {

/** Peak of Σ bytes over tensors live at once; a tensor lives from its producer's start (task start
 *  for inputs) to its last reader's end (task end for graph outputs). */
size_t measuredLoad(const TaskState& t) {
  const Model& m = *t.prep->model;
  std::vector<std::pair<int64_t, int64_t>> ev;  // (time, +bytes / −bytes)
  for (size_t i = 0; i < m.tensors.size(); i++) {
    const TensorInfo& ti = m.tensors[i];
    if (ti.kind == TensorKind::Weight || !ti.bytes) continue;
    int64_t s = ti.producer >= 0 ? t.ops[static_cast<size_t>(ti.producer)].start : t.beginNs;
    int64_t e = ti.producer >= 0 ? t.ops[static_cast<size_t>(ti.producer)].end : t.beginNs;
    if (ti.graphOutput) e = t.endNs;
    for (int c : ti.consumers) e = std::max(e, t.ops[static_cast<size_t>(c)].end);
    ev.emplace_back(s, static_cast<int64_t>(ti.bytes));
    ev.emplace_back(e, -static_cast<int64_t>(ti.bytes));
  }
  // At equal times frees go first: a buffer released as the next op starts is not live with it.
  std::sort(ev.begin(), ev.end());
  int64_t live = 0, peak = 0;
  for (auto& [time, d] : ev) {
    live += d;
    peak = std::max(peak, live);
  }
  return static_cast<size_t>(peak);
}

}  // namespace

json buildReport(const Executor& ex, const RunState& run) {
  const int64_t e0 = ex.epochNs();
  auto us = [&](int64_t ns) { return static_cast<double>(ns - e0) / 1000.0; };
  json tasks = json::array(), ops = json::array();
  int64_t lastEnd = run.submitNs;
  for (const auto& tp : run.tasks) {
    const TaskState& t = *tp;
    const Prepared& p = *t.prep;
    const Model& m = *p.model;
    lastEnd = std::max(lastEnd, t.endNs);
    json task = {{"task", t.index},
                 {"model", m.name},
                 {"memory", memModeName(t.mode)},
                 {"beginUs", us(t.beginNs)},
                 {"endUs", us(t.endNs)},
                 {"latencyMs", static_cast<double>(t.endNs - t.beginNs) / 1e6},
                 {"queueMs", static_cast<double>(t.beginNs - run.submitNs) / 1e6},
                 {"naiveBytes", m.naiveBytes},
                 {"arenaBytes", t.mode == MemMode::Planned ? json(p.arenaBytes) : json(nullptr)}};
    if (t.failed.load()) {
      task["error"] = t.error;
    } else {
      task["loadBytes"] = measuredLoad(t);
      json stages = json::array();
      for (const StagePlan& sp : p.stages) {
        int64_t s = INT64_MAX, e = 0;
        for (const GroupPlan& g : sp.groups)
          for (const Step& st : g.steps)
            for (int n : st.nodes) s = std::min(s, t.ops[static_cast<size_t>(n)].start), e = std::max(e, t.ops[static_cast<size_t>(n)].end);
        stages.push_back({{"startUs", us(s)}, {"endUs", us(e)}});
      }
      task["stages"] = std::move(stages);
      json groups = json::array();
      for (const GroupRecord& g : t.groups) {
        const GroupPlan& gp = p.stages[static_cast<size_t>(g.stage)].groups[static_cast<size_t>(g.group)];
        groups.push_back({{"stage", g.stage},
                          {"group", g.group},
                          {"stream", g.stream},
                          {"first", m.nodes[static_cast<size_t>(gp.steps.front().nodes.front())].id},
                          {"last", m.nodes[static_cast<size_t>(gp.steps.back().nodes.back())].id}});
      }
      task["groups"] = std::move(groups);
      for (size_t n = 0; n < m.nodes.size(); n++) {
        const OpRecord& r = t.ops[n];
        ops.push_back({{"node", m.nodes[n].id}, {"stream", r.stream}, {"task", t.index}, {"startUs", us(r.start)}, {"endUs", us(r.end)}});
      }
    }
    if (t.mode == MemMode::Trace) {
      json trace = json::array();
      for (size_t i = 0; i < t.trace.size(); i++) {
        const TraceRecord& r = t.trace[i];
        if (r.allocSeq < 0) continue;
        trace.push_back({{"tensor", m.tensors[i].name}, {"bytes", m.tensors[i].bytes}, {"allocSeq", r.allocSeq}, {"freeSeq", r.freeSeq}, {"allocUs", us(r.allocNs)}, {"freeUs", us(r.freeNs)}});
      }
      task["trace"] = std::move(trace);
    }
    tasks.push_back(std::move(task));
  }
  auto cs = const_cast<Executor&>(ex).caching().stats();
  return {{"submitUs", us(run.submitNs)},
          {"endUs", us(lastEnd)},
          {"wallMs", static_cast<double>(lastEnd - run.submitNs) / 1e6},
          {"tasks", std::move(tasks)},
          {"ops", std::move(ops)},
          {"memory",
           {{"arenaPoolBytes", const_cast<Executor&>(ex).arenas().reservedBytes()},
            {"cachingReservedBytes", cs.reserved},
            {"cachingPeakReservedBytes", cs.peakReserved},
            {"cachingPeakInUseBytes", cs.peakInUse}}}};
}

}  // namespace ts
