// RunReport: per op (node, stream, task, start, end), per stage and per task times, memory figures
// (arena, LOAD = peak of live activation bytes over the run's measured timeline, naive sum) and, in
// trace mode, every activation's alloc/free events.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

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


/** First start and last end (ns) of a stage's ops in a task. */
std::pair<int64_t, int64_t> stageSpan(const TaskState& t, const StagePlan& sp) {
  int64_t s = INT64_MAX, e = 0;
  for (const GroupPlan& g : sp.groups)
    for (const Step& st : g.steps)
      for (int n : st.nodes) s = std::min(s, t.ops[static_cast<size_t>(n)].start), e = std::max(e, t.ops[static_cast<size_t>(n)].end);
  return {s, e};
}

/**
 * Writes JSON straight into a string: a run's report is built after every run, on the JS thread,
 * and a json document of per-op objects cost 0.25-0.35 ms on MobileNetV2's 60 ops (8 % of a
 * 2-thread run); this writes the same text in a fraction of that.
 */
class JsonOut {
 public:
  std::string s;
  void raw(const char* c) { s += c; }
  void key(const char* k) {
    sep();
    s += '"';
    s += k;
    s += "\":";
    fresh_ = true;
  }
  void num(double v) {
    sep();
    if (!std::isfinite(v)) {
      s += "null";
      return;
    }
    char b[32];
    auto r = std::to_chars(b, b + sizeof b, v);
    s.append(b, r.ptr);
  }
  void num(int64_t v) {
    sep();
    char b[24];
    auto r = std::to_chars(b, b + sizeof b, v);
    s.append(b, r.ptr);
  }
  void num(int v) { num(static_cast<int64_t>(v)); }
  void num(size_t v) { num(static_cast<int64_t>(v)); }
  void boolean(bool v) {
    sep();
    s += v ? "true" : "false";
  }
  void null() {
    sep();
    s += "null";
  }
  void str(const std::string& v) {
    sep();
    s += '"';
    for (unsigned char c : v) {
      if (c == '"' || c == '\\') {
        s += '\\';
        s += static_cast<char>(c);
      } else if (c < 0x20) {
        char b[8];
        std::snprintf(b, sizeof b, "\\u%04x", c);
        s += b;
      } else {
        s += static_cast<char>(c);
      }
    }
    s += '"';
  }
  void open(char c) {
    sep();
    s += c;
    fresh_ = true;
  }
  void close(char c) {
    s += c;
    fresh_ = false;
  }

 private:
  // A comma goes before every value or key but the first in its container and a value after its key.
  void sep() {
    if (!fresh_) s += ',';
    fresh_ = false;
  }
  bool fresh_ = true;
};

}  // namespace

std::string reportJson(const Executor& ex, const RunState& run, bool timeline) {
  const int64_t e0 = ex.epochNs();
  auto us = [&](int64_t ns) { return static_cast<double>(ns - e0) / 1000.0; };
  JsonOut o;
  o.s.reserve(256 + run.tasks.size() * 512 + 160 * [&] {
    size_t n = 0;
    for (const auto& t : run.tasks) n += t->ops.size() + t->groups.size() * 2;
    return n;
  }());
  int64_t lastEnd = run.submitNs;
  for (const auto& tp : run.tasks) lastEnd = std::max(lastEnd, tp->endNs);
  o.open('{');
  o.key("submitUs"), o.num(us(run.submitNs));
  o.key("endUs"), o.num(us(lastEnd));
  o.key("wallMs"), o.num(static_cast<double>(lastEnd - run.submitNs) / 1e6);
  o.key("tasks"), o.open('[');
  for (const auto& tp : run.tasks) {
    const TaskState& t = *tp;
    const Prepared& p = *t.prep;
    const Model& m = *p.model;
    o.open('{');
    o.key("task"), o.num(t.index);
    o.key("model"), o.str(m.name);
    o.key("memory"), o.str(memModeName(t.mode));
    o.key("beginUs"), o.num(us(t.beginNs));
    o.key("endUs"), o.num(us(t.endNs));
    o.key("latencyMs"), o.num(static_cast<double>(t.endNs - t.beginNs) / 1e6);
    o.key("queueMs"), o.num(static_cast<double>(t.beginNs - run.submitNs) / 1e6);
    o.key("naiveBytes"), o.num(m.naiveBytes);
    o.key("measuringThreads"), o.boolean(t.measuringThreads.load());
    o.key("arenaBytes");
    if (t.mode == MemMode::Planned) o.num(p.arenaBytes);
    else o.null();
    if (t.failed.load()) {
      o.key("error"), o.str(t.error);
    } else if (!timeline) {
      o.key("loadBytes"), o.num(measuredLoad(t));
    } else {
      o.key("loadBytes"), o.num(measuredLoad(t));
      o.key("stages"), o.open('[');
      for (const StagePlan& sp : p.stages) {
        auto [s, e] = stageSpan(t, sp);
        o.open('{'), o.key("startUs"), o.num(us(s)), o.key("endUs"), o.num(us(e)), o.close('}');
      }
      o.close(']');
      o.key("groups"), o.open('[');
      for (const GroupRecord& g : t.groups) {
        const GroupPlan& gp = p.stages[static_cast<size_t>(g.stage)].groups[static_cast<size_t>(g.group)];
        o.open('{');
        o.key("stage"), o.num(g.stage);
        o.key("group"), o.num(g.group);
        o.key("stream"), o.num(g.stream);
        o.key("first"), o.str(m.nodes[static_cast<size_t>(gp.steps.front().nodes.front())].id);
        o.key("last"), o.str(m.nodes[static_cast<size_t>(gp.steps.back().nodes.back())].id);
        o.close('}');
      }
      o.close(']');
    }
    if (t.mode == MemMode::Trace) {
      o.key("trace"), o.open('[');
      for (size_t i = 0; i < t.trace.size(); i++) {
        const TraceRecord& r = t.trace[i];
        if (r.allocSeq < 0) continue;
        o.open('{');
        o.key("tensor"), o.str(m.tensors[i].name);
        o.key("bytes"), o.num(m.tensors[i].bytes);
        o.key("allocSeq"), o.num(r.allocSeq);
        o.key("freeSeq"), o.num(r.freeSeq);
        o.key("allocUs"), o.num(us(r.allocNs));
        o.key("freeUs"), o.num(us(r.freeNs));
        o.close('}');
      }
      o.close(']');
    }
    o.close('}');
  }
  o.close(']');
  if (timeline) {
    o.key("ops"), o.open('[');
    for (const auto& tp : run.tasks) {
      const TaskState& t = *tp;
      if (t.failed.load()) continue;
      const Model& m = *t.prep->model;
      for (size_t n = 0; n < m.nodes.size(); n++) {
        const OpRecord& r = t.ops[n];
        o.open('{');
        o.key("node"), o.str(m.nodes[n].id);
        o.key("stream"), o.num(r.stream);
        o.key("task"), o.num(t.index);
        o.key("startUs"), o.num(us(r.start));
        o.key("endUs"), o.num(us(r.end));
        o.key("threads"), o.num(r.threads);
        o.close('}');
      }
    }
    o.close(']');
  }
  auto cs = const_cast<Executor&>(ex).caching().stats();
  o.key("memory"), o.open('{');
  o.key("arenaPoolBytes"), o.num(const_cast<Executor&>(ex).arenas().reservedBytes());
  o.key("cachingReservedBytes"), o.num(cs.reserved);
  o.key("cachingPeakReservedBytes"), o.num(cs.peakReserved);
  o.key("cachingPeakInUseBytes"), o.num(cs.peakInUse);
  o.close('}');
  o.close('}');
  return std::move(o.s);
}

json buildReport(const Executor& ex, const RunState& run) { return json::parse(reportJson(ex, run, true)); }

std::vector<double> reportTimeline(const Executor& ex, const RunState& run) {
  const int64_t e0 = ex.epochNs();
  auto us = [&](int64_t ns) { return static_cast<double>(ns - e0) / 1000.0; };
  size_t n = 0;
  for (const auto& tp : run.tasks)
    if (!tp->failed.load()) n += 1 + 3 + tp->ops.size() * 4 + tp->prep->stages.size() * 2 + tp->groups.size() * 5;
  std::vector<double> v;
  v.reserve(n);
  for (const auto& tp : run.tasks) {
    const TaskState& t = *tp;
    if (t.failed.load()) continue;
    const Prepared& p = *t.prep;
    v.push_back(t.index);
    v.push_back(static_cast<double>(t.ops.size())), v.push_back(static_cast<double>(p.stages.size())), v.push_back(static_cast<double>(t.groups.size()));
    for (const OpRecord& r : t.ops) v.push_back(us(r.start)), v.push_back(us(r.end)), v.push_back(r.stream), v.push_back(r.threads);
    for (const StagePlan& sp : p.stages) {
      auto [s, e] = stageSpan(t, sp);
      v.push_back(us(s)), v.push_back(us(e));
    }
    for (const GroupRecord& g : t.groups) {
      const GroupPlan& gp = p.stages[static_cast<size_t>(g.stage)].groups[static_cast<size_t>(g.group)];
      v.push_back(g.stage), v.push_back(g.group), v.push_back(g.stream);
      v.push_back(gp.steps.front().nodes.front()), v.push_back(gp.steps.back().nodes.back());
    }
  }
  return v;
}

}  // namespace ts
