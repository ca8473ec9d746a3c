// Schedule checking (the same rules as graphs/schedule.ts checkSchedule, so a schedule the TS side
// accepts is accepted here and a hand-written bad one fails with the rule and node named) and the
// translation into stages → groups → steps.
#include "plan.hpp"

#include <algorithm>

#include <cstdlib>
#include <set>
#include <sstream>
#include <tuple>

namespace ts {

std::shared_ptr<MergedConv> buildMerge(Model& m, const std::vector<int>& convs, Backend& backend, int threads);
void checkPlan(Prepared& p, const json& plan);

namespace {

struct Violations {
  std::vector<std::string> list;
  void add(const char* rule, const std::string& msg) { list.push_back(std::string("[") + rule + "] " + msg); }
};

std::string mergeProblem(const Model& m, const std::vector<int>& convs) {
  if (convs.size() < 2) return "a merge stage needs at least two convolutions";
  const NodeInfo& f = m.nodes[static_cast<size_t>(convs[0])];
  auto ints = [](const NodeInfo& n, const char* k, std::vector<int64_t> d) { return attrInts(n.attrs, k, d, n.where()); };
  for (int v : convs) {
    const NodeInfo& n = m.nodes[static_cast<size_t>(v)];
    if (n.op != "Conv") return "'" + n.id + "' is a " + n.op + ", only Conv nodes merge";
    if (n.inputs[0] != f.inputs[0]) return "'" + n.id + "' reads '" + m.tensors[static_cast<size_t>(n.inputs[0])].name + "', not the shared input";
    if (attrInt(n.attrs, "group", 1, n.where()) != 1) return "'" + n.id + "' is a grouped convolution";
    if (ints(n, "strides", {1, 1}) != ints(f, "strides", {1, 1})) return "'" + n.id + "' has other strides than '" + f.id + "'";
    if (ints(n, "dilations", {1, 1}) != ints(f, "dilations", {1, 1})) return "'" + n.id + "' has other dilations than '" + f.id + "'";
    const Shape& a = m.tensors[static_cast<size_t>(n.outputs[0])].shape;
    const Shape& b = m.tensors[static_cast<size_t>(f.outputs[0])].shape;
    if (a[2] != b[2] || a[3] != b[3]) return "'" + n.id + "' has another output size than '" + f.id + "'";
    auto k = ints(n, "kernel_shape", {}), k0 = ints(f, "kernel_shape", {});
    auto p = ints(n, "pads", {0, 0, 0, 0}), p0 = ints(f, "pads", {0, 0, 0, 0});
    if (k.size() != 2 || k0.size() != 2 || p.size() != 4 || p0.size() != 4) return "'" + n.id + "' lacks 2-D kernel_shape / pads";
    for (int i = 0; i < 2; i++)
      if ((k0[i] - k[i]) % 2 != 0 || p0[i] - p[i] != (k0[i] - k[i]) / 2) return "'" + n.id + "' kernel / pads do not align with '" + f.id + "'";
  }
  return "";
}

double stepCost(const NodeInfo& n) {
  // ns at ~20 GFLOP/s and ~10 GB/s plus a dispatch: only relative sizes matter (stream balancing).
  return n.flops / 20.0 + n.bytes / 10.0 + 2000.0;
}

}  // namespace

int ThreadTrial::next() {
  if (decided.load(std::memory_order_acquire) >= 0) return -1;
  std::lock_guard<std::mutex> l(mu_);
  for (int k = 0; k < 2; k++) {
    const int v = (turn_ + k) & 1;
    if (count_[v] < samples) {
      turn_ = v + 1;
      return v;
    }
  }
  return -1;  // every sample is taken or under way; the last record decides
}

void ThreadTrial::record(int variant, int64_t ns) {
  std::lock_guard<std::mutex> l(mu_);
  if (decided.load(std::memory_order_relaxed) >= 0 || count_[variant] >= samples) return;
  ns_[variant][count_[variant]++] = ns;
  if (count_[0] < samples || count_[1] < samples) return;
  auto median = [](int64_t* v) {
    std::sort(v, v + samples);
    return v[samples / 2];
  };
  const int64_t multi = median(ns_[0]), single = median(ns_[1]);
  decided.store(single < multi ? 1 : 0, std::memory_order_release);
}

double smallOpFlops() {
  static const double small = envNumber("TOPSCHED_SMALL_OP_FLOPS", 4e6, 0, 1e18, false);
  return small;
}

std::shared_ptr<Prepared> prepare(const std::shared_ptr<Model>& model, const json& doc, Backend& backend) {
  Model& m = *model;
  const std::string where = "schedule for '" + m.name + "'";
  if (!doc.is_object() || !doc.contains("schedule")) throw Error(where + ": document has no 'schedule'");
  const json& sch = doc.at("schedule");
  Violations v;
  if (!sch.is_object() || !sch.contains("stages") || !sch.at("stages").is_array()) throw Error(where + ": [format] schedule has no stages array");
  if (sch.value("model", std::string()) != m.name) v.add("format", "schedule is for model '" + sch.value("model", std::string("?")) + "', graph is '" + m.name + "'");
  if (sch.contains("batch") && sch.at("batch").is_number() && sch.at("batch").get<int>() != m.batch) {
    v.add("format", "schedule is for batch " + sch.at("batch").dump() + ", the model was loaded at batch " + std::to_string(m.batch));
  }
  // A partial schedule (some stages only: StageMeter times one candidate stage) need not name every node.
  const bool partial = doc.value("partial", false);
  auto p = std::make_shared<Prepared>();
  p->model = model;
  p->pos.assign(m.nodes.size(), NodePos{});
  const json& stages = sch.at("stages");
  std::vector<std::vector<std::vector<int>>> groups(stages.size());
  std::vector<bool> isMerge(stages.size(), false);
  for (size_t si = 0; si < stages.size(); si++) {
    const json& st = stages[si];
    std::string kind = st.is_object() ? st.value("kind", std::string()) : std::string();
    if (kind != "parallel" && kind != "merge") v.add("format", "stage " + std::to_string(si) + " has kind '" + kind + "' (parallel | merge)");
    isMerge[si] = kind == "merge";
    const json* gs = st.is_object() && st.contains("groups") ? &st.at("groups") : nullptr;
    bool bad = !gs || !gs->is_array() || gs->empty();
    if (!bad)
      for (const auto& g : *gs) bad = bad || !g.is_array() || g.empty();
    if (bad) {
      v.add("empty-stage", "stage " + std::to_string(si) + " has an empty group list or an empty group");
      continue;
    }
    for (size_t gi = 0; gi < gs->size(); gi++) {
      groups[si].emplace_back();
      const json& g = (*gs)[gi];
      for (size_t at = 0; at < g.size(); at++) {
        std::string id = g[at].is_string() ? g[at].get<std::string>() : g[at].dump();
        auto it = m.nodeIndex.find(id);
        if (it == m.nodeIndex.end()) {
          v.add("unknown-node", "stage " + std::to_string(si) + " group " + std::to_string(gi) + " names '" + id + "', not a node of '" + m.name + "'");
          continue;
        }
        NodePos& np = p->pos[static_cast<size_t>(it->second)];
        if (np.stage >= 0) {
          v.add("duplicate-node", "'" + id + "' appears in stage " + std::to_string(np.stage) + " and again in stage " + std::to_string(si));
          continue;
        }
        np = {static_cast<int>(si), static_cast<int>(gi), static_cast<int>(at)};
        groups[si].back().push_back(it->second);
      }
    }
    if (st.is_object() && st.contains("threads")) {
      const json& th = st.at("threads");
      bool ok = th.is_array() && th.size() == gs->size();
      if (ok)
        for (const auto& x : th) ok = ok && x.is_number_integer() && x.get<int64_t>() >= 1 && x.get<int64_t>() <= 256;
      if (!ok)
        v.add("format", "stage " + std::to_string(si) + ": 'threads' must hold one integer 1..256 per group (" + std::to_string(gs->size()) + "), got " + th.dump());
    }
    if (isMerge[si]) {
      std::vector<int> convs;
      bool single = true;
      for (const auto& g : groups[si]) single = single && g.size() == 1, convs.insert(convs.end(), g.begin(), g.end());
      std::string why = single ? mergeProblem(m, convs) : "each group of a merge stage holds exactly one Conv";
      if (!why.empty()) v.add("merge", "stage " + std::to_string(si) + ": " + why);
    }
  }
  for (size_t n = 0; n < m.nodes.size(); n++) {
    const NodePos& a = p->pos[n];
    const std::string& id = m.nodes[n].id;
    if (a.stage < 0) {
      if (!partial) v.add("missing-node", "'" + id + "' is in no stage");
      continue;
    }
    std::set<int> preds;
    for (int t : m.nodes[n].inputs)
      if (m.tensors[static_cast<size_t>(t)].producer >= 0) preds.insert(m.tensors[static_cast<size_t>(t)].producer);
    for (int u : preds) {
      const NodePos& b = p->pos[static_cast<size_t>(u)];
      if (b.stage < 0) continue;
      const std::string& dep = m.nodes[static_cast<size_t>(u)].id;
      if (b.stage > a.stage) {
        v.add("stage-order", "'" + id + "' (stage " + std::to_string(a.stage) + ") reads '" + dep + "' which runs later, in stage " + std::to_string(b.stage));
      } else if (b.stage == a.stage && b.group != a.group) {
        v.add("concurrent-dependency", "'" + id + "' (stage " + std::to_string(a.stage) + " group " + std::to_string(a.group) + ") reads '" + dep + "' from concurrent group " +
                                           std::to_string(b.group));
      } else if (b.stage == a.stage && b.pos > a.pos) {
        v.add("chain-order", "'" + id + "' comes before its input '" + dep + "' in stage " + std::to_string(a.stage) + " group " + std::to_string(a.group));
      } else if (b.stage == a.stage && isMerge[static_cast<size_t>(a.stage)]) {
        v.add("merge", "'" + id + "' reads '" + dep + "' inside merge stage " + std::to_string(a.stage));
      }
    }
  }
  if (!v.list.empty()) {
    std::ostringstream o;
    o << where << ": ";
    for (size_t i = 0; i < v.list.size() && i < 5; i++) o << (i ? "; " : "") << v.list[i];
    if (v.list.size() > 5) o << "; and " << v.list.size() - 5 << " more";
    throw Error(o.str());
  }

  p->useCount.assign(m.tensors.size(), 0);
  auto makeStep = [&](const std::vector<int>& nodes) {
    Step s;
    s.nodes = nodes;
    std::set<int> reads;
    for (int n : nodes) {
      const NodeInfo& ni = m.nodes[static_cast<size_t>(n)];
      for (int t : ni.inputs)
        if (m.tensors[static_cast<size_t>(t)].kind != TensorKind::Weight) reads.insert(t);
      s.writes.insert(s.writes.end(), ni.outputs.begin(), ni.outputs.end());
      s.cost += stepCost(ni);
      s.flops += ni.flops;
    }
    s.reads.assign(reads.begin(), reads.end());
    for (int t : s.reads) p->useCount[static_cast<size_t>(t)]++;
    return s;
  };
  for (size_t si = 0; si < stages.size(); si++) {
    StagePlan sp;
    sp.merge = isMerge[si];
    if (sp.merge) {
      // One fused convolution on one stream; its nodes keep distinct groups in `pos`, so the memory
      // check treats their outputs as written concurrently.
      std::vector<int> convs;
      for (const auto& g : groups[si]) convs.push_back(g[0]);
      GroupPlan gp;
      gp.steps.push_back(makeStep(convs));
      if (stages[si].contains("threads")) gp.steps.back().threads = stages[si].at("threads")[0].get<int>();
      gp.steps.back().merge = buildMerge(m, convs, backend, gp.steps.back().threads);
      gp.cost = gp.steps.back().cost;
      sp.groups.push_back(std::move(gp));
    } else {
      for (size_t gi = 0; gi < groups[si].size(); gi++) {
        const auto& g = groups[si][gi];
        GroupPlan gp;
        int threads = stages[si].contains("threads") ? stages[si].at("threads")[gi].get<int>() : 0;
        for (int n : g) {
          gp.steps.push_back(makeStep({n}));
          Step& st = gp.steps.back();
          st.threads = threads;
          // oneDNN fixes a primitive's thread count when it is built, so a step that runs with
          // another count than the node's kernel (the schedule's, or one thread for a small op on
          // multi-threaded streams) gets a kernel built for it.
          // A step with more than one thread to spend (its group's count, else the stream's)
          // measures one thread against that count (ThreadTrial), so a hybrid schedule's
          // multi-threaded group gives each op what sequential multi-threaded ops would get.
          const int kt = backend.kernelThreads();
          const int budget = threads > 0 ? threads : kt;
          if (budget > 1 && backend.measuresOpThreads()) {
            st.trial = std::make_shared<ThreadTrial>();
            std::tie(st.trial->kernel, st.trial->consts) = m.kernelFor(n, 1);
            if (!st.trial->kernel) st.trial.reset();  // a backend without per-count kernels
          }
          const int want = st.trial ? threads : threads > 0 ? threads : kt > 1 && st.flops < smallOpFlops() ? 1 : 0;
          if (want > 0 && kt > 0 && want != kt) std::tie(st.kernel, st.consts) = m.kernelFor(n, want);
          gp.cost += st.cost;
        }
        sp.groups.push_back(std::move(gp));
      }
    }
    for (const auto& g : sp.groups) p->stepCount += g.steps.size();
    p->stages.push_back(std::move(sp));
  }
  for (int t : m.outputs) p->useCount[static_cast<size_t>(t)]++;
  if (doc.contains("plan") && !doc.at("plan").is_null()) checkPlan(*p, doc.at("plan"));
  return p;
}

}  // namespace ts
