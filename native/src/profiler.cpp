#include "profiler.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <thread>

namespace ts {

namespace {

/** A closure run on a stream; the caller blocks until it has run. */
struct Closure {
  std::function<void(ExecContext&)> fn;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::string error;
  static void call(void* arg, ExecContext& ctx) {
    auto* c = static_cast<Closure*>(arg);
    try {
      c->fn(ctx);
    } catch (const std::exception& e) {
      c->error = e.what();
    }
    std::lock_guard<std::mutex> l(c->mu);
    c->done = true;
    c->cv.notify_all();
  }
};

/** Runs fns[k] on stream k (all at once) and waits for all; rethrows the first error. */
void onStreams(Executor& ex, const std::vector<std::function<void(ExecContext&)>>& fns) {
  std::vector<std::unique_ptr<Closure>> cs;
  for (size_t k = 0; k < fns.size(); k++) {
    cs.push_back(std::make_unique<Closure>());
    cs.back()->fn = fns[k];
    Command c = Command::call(&Closure::call, cs.back().get());
    ex.stream(static_cast<int>(k)).submit(&c, 1);
  }
  for (auto& c : cs) {
    std::unique_lock<std::mutex> l(c->mu);
    c->cv.wait(l, [&] { return c->done; });
  }
  for (auto& c : cs)
    if (!c->error.empty()) throw Error("profile: " + c->error);
}

/** Sense-reversing spin barrier: stream threads meet between repetitions of a stage. */
class SpinBarrier {
 public:
  explicit SpinBarrier(int n) : n_(n), left_(n) {}
  void wait() {
    bool sense = sense_.load(std::memory_order_acquire);
    if (left_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      left_.store(n_, std::memory_order_relaxed);
      sense_.store(!sense, std::memory_order_release);
      return;
    }
    for (int i = 0; sense_.load(std::memory_order_acquire) == sense; i++)
      if (i > 1000) std::this_thread::yield();
      else __builtin_ia32_pause();
  }

 private:
  int n_;
  std::atomic<int> left_;
  std::atomic<bool> sense_{false};
};

struct Stats {
  double mean = 0, median = 0, min = 0, std = 0;
};

Stats stats(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  s.median = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  s.min = v.front();
  for (double x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / static_cast<double>(v.size()));
  return s;
}

json statsJson(const Stats& s) { return {{"meanMs", s.mean}, {"medianMs", s.median}, {"minMs", s.min}, {"stdMs", s.std}}; }

/** One stage's latency: its groups on min(groups, streams) streams (round robin), which meet at a
 *  barrier before each run; `number` runs back to back, `repeat` times, after `warmup`. */
Stats timeStage(Executor& ex, const Model& m, const StagePlan& sp, const std::vector<void*>& ptr, int warmup, int number, int repeat) {
  int k = std::min<int>(static_cast<int>(sp.groups.size()), ex.streams());
  SpinBarrier bar(k);
  std::vector<double> samples;
  std::vector<std::function<void(ExecContext&)>> fns;
  for (int s = 0; s < k; s++) {
    fns.push_back([&, s](ExecContext& ctx) {
      auto once = [&] {
        bar.wait();
        for (size_t g = static_cast<size_t>(s); g < sp.groups.size(); g += static_cast<size_t>(k))
          for (const Step& st : sp.groups[g].steps) Executor::execStep(m, st, ptr, ctx);
      };
      for (int i = 0; i < warmup; i++) once();
      for (int r = 0; r < repeat; r++) {
        int64_t t0 = nowNs();
        for (int i = 0; i < number; i++) once();
        bar.wait();
        if (s == 0) samples.push_back(static_cast<double>(nowNs() - t0) / 1e6 / number);
      }
    });
  }
  onStreams(ex, fns);
  return stats(samples);
}

/** Own memory for every activation of `m` (no reuse), 64-byte aligned; pointers per tensor. */
std::vector<void*> layoutArena(const Model& m, const ArenaPool::Lease& arena) {
  std::vector<void*> ptr(m.tensors.size(), nullptr);
  size_t total = 0;
  for (size_t i = 0; i < m.tensors.size(); i++)
    if (m.tensors[i].kind != TensorKind::Weight) ptr[i] = static_cast<uint8_t*>(arena.ptr) + total, total += (m.tensors[i].bytes + 63) / 64 * 64;
  return ptr;
}

size_t arenaSize(const Model& m) {
  size_t total = 0;
  for (const auto& t : m.tensors)
    if (t.kind != TensorKind::Weight) total += (t.bytes + 63) / 64 * 64;
  return total;
}

/** Writes the default inputs and runs every step once on stream 0, so each op reads realistic values. */
void fillArena(Executor& ex, const Model& m, const std::vector<const Step*>& steps, const std::vector<void*>& ptr) {
  for (size_t i = 0; i < m.inputs.size(); i++) ex.backend().toDevice(ptr[static_cast<size_t>(m.inputs[i])], m.defaultInputs[i].data(), m.defaultInputs[i].size());
  onStreams(ex, {[&](ExecContext& ctx) {
              for (const Step* st : steps) Executor::execStep(m, *st, ptr, ctx);
            }});
}

}  // namespace

json profile(Executor& ex, const std::shared_ptr<Prepared>& p, const json& opts) {
  const Model& m = *p->model;
  const int warmup = opts.value("warmup", 2), number = std::max(1, opts.value("number", 10)), repeat = std::max(1, opts.value("repeat", 5));
  const double corunMs = opts.value("corunMs", 20.0);
  // Every activation gets its own memory (no reuse), filled by one sequential pass of the
  // schedule so each op reads realistic values.
  ArenaPool::Lease arena = ex.arenas().acquire(arenaSize(m));
  struct Release {
    Executor& ex;
    ArenaPool::Lease l;
    ~Release() { ex.arenas().release(l); }
  } release{ex, arena};
  std::vector<void*> ptr = layoutArena(m, arena);
  std::vector<const Step*> steps;
  for (const auto& sp : p->stages)
    for (const auto& g : sp.groups)
      for (const auto& st : g.steps) steps.push_back(&st);
  fillArena(ex, m, steps, ptr);

  // Times `number` back-to-back runs of f, `repeat` times, after `warmup` runs; ms per run.
  auto timeIt = [&](const std::function<void()>& f) {
    for (int i = 0; i < warmup; i++) f();
    std::vector<double> v;
    for (int r = 0; r < repeat; r++) {
      int64_t t0 = nowNs();
      for (int i = 0; i < number; i++) f();
      v.push_back(static_cast<double>(nowNs() - t0) / 1e6 / number);
    }
    return stats(v);
  };

  json out = {{"settings", {{"warmup", warmup}, {"number", number}, {"repeat", repeat}, {"corunMs", corunMs}, {"streams", ex.streams()}, {"opThreads", ex.options().opThreads}}}};
  std::unordered_map<std::string, Stats> alone;
  if (opts.value("ops", true)) {
    json ops = json::object();
    onStreams(ex, {[&](ExecContext& ctx) {
                for (const Step* st : steps) {
                  Stats s = timeIt([&] { Executor::execStep(m, *st, ptr, ctx); });
                  std::string key = st->nodes.size() == 1 ? m.nodes[static_cast<size_t>(st->nodes[0])].id : st->merge ? "merge:" + m.nodes[static_cast<size_t>(st->nodes[0])].id : "";
                  alone[key] = s;
                  ops[key] = statsJson(s);
                }
              }});
    out["ops"] = std::move(ops);
  }

  if (opts.value("stages", true)) {
    json stages = json::array();
    for (size_t si = 0; si < p->stages.size(); si++) {
      json st = statsJson(timeStage(ex, m, p->stages[si], ptr, warmup, number, repeat));
      st["index"] = si;
      st["groups"] = p->stages[si].groups.size();
      stages.push_back(std::move(st));
    }
    out["stages"] = std::move(stages);
  }

  json pairs = json::array();
  if (opts.contains("pairs") && !opts.at("pairs").empty()) {
    if (ex.streams() < 2) throw Error("profile: co-run pairs need an executor with at least 2 streams");
    std::unordered_map<int, const Step*> stepOf;
    for (const Step* st : steps)
      for (int n : st->nodes) stepOf[n] = st;
    for (const auto& pr : opts.at("pairs")) {
      if (!pr.is_array() || pr.size() != 2) throw Error("profile: each pair must be [nodeA, nodeB]");
      const Step* ab[2];
      std::string names[2];
      for (int i = 0; i < 2; i++) {
        names[i] = pr[static_cast<size_t>(i)].get<std::string>();
        ab[i] = stepOf.at(m.node(names[i], "profile pair"));
      }
      // Both loop until stream 0 has run for corunMs; each side's mean is its co-run latency.
      std::atomic<bool> stop{false};
      SpinBarrier bar(2);
      double lat[2] = {0, 0};
      std::vector<std::function<void(ExecContext&)>> fns;
      for (int i = 0; i < 2; i++) {
        fns.push_back([&, i](ExecContext& ctx) {
          for (int w = 0; w < warmup; w++) Executor::execStep(m, *ab[i], ptr, ctx);
          bar.wait();
          int64_t t0 = nowNs();
          int64_t n = 0;
          while (!stop.load(std::memory_order_acquire)) {
            Executor::execStep(m, *ab[i], ptr, ctx);
            n++;
            if (i == 0 && static_cast<double>(nowNs() - t0) / 1e6 >= corunMs) stop.store(true, std::memory_order_release);
          }
          lat[i] = static_cast<double>(nowNs() - t0) / 1e6 / static_cast<double>(std::max<int64_t>(n, 1));
        });
      }
      onStreams(ex, fns);
      json a = {names[0], names[1]};
      double al[2];
      for (int i = 0; i < 2; i++) {
        auto it = alone.find(names[i]);
        al[i] = it != alone.end() ? it->second.median : 0;
        if (al[i] == 0) {
          Stats s;
          onStreams(ex, {[&](ExecContext& ctx) { s = timeIt([&] { Executor::execStep(m, *ab[i], ptr, ctx); }); }});
          al[i] = s.median;
        }
      }
      pairs.push_back({{"a", names[0]},
                       {"b", names[1]},
                       {"aloneMs", {al[0], al[1]}},
                       {"corunMs", {lat[0], lat[1]}},
                       {"slowdown", {al[0] > 0 ? lat[0] / al[0] : 1.0, al[1] > 0 ? lat[1] / al[1] : 1.0}}});
    }
  }
  out["pairs"] = std::move(pairs);
  return out;
}

StageMeter::StageMeter(Executor& ex, std::shared_ptr<Model> model) : ex_(ex), model_(std::move(model)) {
  const Model& m = *model_;
  // Nodes are stored in graph order, which is topological (loadModel refuses a forward read).
  json stages = json::array();
  for (const auto& n : m.nodes) stages.push_back({{"kind", "parallel"}, {"groups", json::array({json::array({n.id})})}});
  auto seq = prepare(model_, {{"schedule", {{"model", m.name}, {"batch", m.batch}, {"stages", stages}}}}, ex.backend());
  arena_ = ex.arenas().acquire(arenaSize(m));
  try {
    ptr_ = layoutArena(m, arena_);
    std::vector<const Step*> steps;
    for (const auto& sp : seq->stages)
      for (const auto& st : sp.groups[0].steps) steps.push_back(&st);
    fillArena(ex, m, steps, ptr_);
  } catch (...) {
    ex.arenas().release(arena_);
    throw;
  }
}

StageMeter::~StageMeter() { ex_.arenas().release(arena_); }

json StageMeter::measure(const json& stage, const json& opts) {
  const Model& m = *model_;
  const int warmup = std::max(0, opts.value("warmup", 2)), number = std::max(1, opts.value("number", 5)), repeat = std::max(1, opts.value("repeat", 3));
  auto p = prepare(model_, {{"schedule", {{"model", m.name}, {"batch", m.batch}, {"stages", json::array({stage})}}}, {"partial", true}}, ex_.backend());
  return statsJson(timeStage(ex_, m, p->stages.at(0), ptr_, warmup, number, repeat));
}

}  // namespace ts
