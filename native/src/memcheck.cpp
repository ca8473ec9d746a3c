// Memory plan check. A plan gives every activation (graph inputs included) a byte offset in one
// arena. It is accepted when every tensor fits and no two tensors that may be live at the same time
// overlap. "May be live at the same time" follows what the executor guarantees and nothing more:
// stages run in order, a group's steps run in order, groups of a stage run concurrently. So a plan
// tuned to one observed interleaving (e.g. from a trace) is refused if another interleaving could
// corrupt it.
#include <algorithm>
#include <climits>

#include "plan.hpp"

namespace ts {

namespace {

struct Life {
  int bStage, bGroup, bPos;  // where the tensor is written (stage −1: a graph input)
  int dStage;                // last stage reading it (INT_MAX: a graph output)
  bool dSingle;              // all its readers in dStage sit in one group ...
  int dGroup, dPos;          // ... this one, the last at position dPos
};

/** Whether every reader of a has finished before b is written, on every possible interleaving. */
bool diesBefore(const Life& a, const Life& b) {
  if (a.dStage < b.bStage) return true;
  return a.dStage == b.bStage && a.dSingle && a.dGroup == b.bGroup && a.dPos < b.bPos;
}

/** The life of memory that holds both (an in-place Concat's output and a slice of it): born at the
 *  earlier birth (a stage's two groups: no order, so group −2 meets no reader's), dead at the later death. */
Life unite(Life a, const Life& b) {
  if (b.bStage < a.bStage) a.bStage = b.bStage, a.bGroup = b.bGroup, a.bPos = b.bPos;
  else if (b.bStage == a.bStage && b.bGroup != a.bGroup) a.bGroup = -2, a.bPos = std::min(a.bPos, b.bPos);
  else if (b.bStage == a.bStage) a.bPos = std::min(a.bPos, b.bPos);
  if (b.dStage > a.dStage) a.dStage = b.dStage, a.dSingle = b.dSingle, a.dGroup = b.dGroup, a.dPos = b.dPos;
  else if (b.dStage == a.dStage) a.dSingle = a.dSingle && b.dSingle && a.dGroup == b.dGroup, a.dPos = std::max(a.dPos, b.dPos);
  if (a.dStage == INT_MAX) a.dSingle = false;
  return a;
}

std::string lifeStr(const Life& l) {
  std::string born = l.bStage < 0 ? "a graph input" : "written in stage " + std::to_string(l.bStage);
  std::string dies = l.dStage == INT_MAX ? "kept to the end (graph output)" : "read until stage " + std::to_string(l.dStage);
  return born + ", " + dies;
}

}  // namespace

void checkPlan(Prepared& p, const json& plan) {
  const Model& m = *p.model;
  const std::string where = "memory plan for '" + m.name + "'";
  if (!plan.is_object() || !plan.contains("arenaBytes") || !plan.contains("offsets") || !plan.at("offsets").is_object()) {
    throw Error(where + ": needs 'arenaBytes' (number) and 'offsets' (tensor → byte offset)");
  }
  const json& arena = plan.at("arenaBytes");
  if (!arena.is_number() || arena.get<double>() < 0) throw Error(where + ": arenaBytes must be a non-negative number");
  p.arenaBytes = static_cast<size_t>(arena.get<double>());
  const json& offs = plan.at("offsets");
  p.offsets.assign(m.tensors.size(), -1);
  std::vector<int> live;
  for (size_t t = 0; t < m.tensors.size(); t++) {
    const TensorInfo& ti = m.tensors[t];
    if (ti.kind == TensorKind::Weight) continue;
    auto it = offs.find(ti.name);
    if (it == offs.end() || !it->is_number()) throw Error(where + ": no offset for tensor '" + ti.name + "'");
    double off = it->get<double>();
    size_t es = dtypeSize(ti.dtype);
    if (off < 0 || off != static_cast<double>(static_cast<int64_t>(off)) || static_cast<int64_t>(off) % static_cast<int64_t>(es) != 0) {
      throw Error(where + ": bad offset " + it->dump() + " for tensor '" + ti.name + "' (a non-negative multiple of " + std::to_string(es) + ")");
    }
    p.offsets[t] = static_cast<int64_t>(off);
    if (static_cast<size_t>(off) + ti.bytes > p.arenaBytes) {
      throw Error(where + ": arena overflow: tensor '" + ti.name + "' needs bytes [" + std::to_string(p.offsets[t]) + ", " + std::to_string(p.offsets[t] + static_cast<int64_t>(ti.bytes)) +
                  ") but the arena has " + std::to_string(p.arenaBytes) + " bytes");
    }
    if (ti.bytes) live.push_back(static_cast<int>(t));
  }
  // In-place Concats (inplace.cpp) this plan lays out: each input exactly at its slice of the
  // output. Their memory is the output's, held from the first slice's birth to the last death.
  p.slicedConcat.assign(m.nodes.size(), false);
  std::vector<int> holder(m.tensors.size(), -1);
  for (size_t n = 0; n < m.nodes.size(); n++) {
    const NodeInfo& ni = m.nodes[n];
    if (!ni.inPlaceConcat) continue;
    const int64_t base = p.offsets[static_cast<size_t>(ni.outputs[0])];
    bool placed = true;
    for (int in : ni.inputs) placed = placed && p.offsets[static_cast<size_t>(in)] == base + static_cast<int64_t>(m.tensors[static_cast<size_t>(in)].sliceOffset);
    if (!placed) continue;
    p.slicedConcat[n] = true;
    for (int in : ni.inputs) holder[static_cast<size_t>(in)] = ni.outputs[0];
  }
  // Lifetimes in schedule positions.
  std::vector<Life> life(m.tensors.size());
  for (int t : live) {
    const TensorInfo& ti = m.tensors[static_cast<size_t>(t)];
    Life& l = life[static_cast<size_t>(t)];
    if (ti.producer < 0) l.bStage = -1, l.bGroup = -1, l.bPos = -1;
    else {
      const NodePos& q = p.pos[static_cast<size_t>(ti.producer)];
      l.bStage = q.stage, l.bGroup = q.group, l.bPos = q.pos;
    }
    l.dStage = l.bStage, l.dSingle = true, l.dGroup = l.bGroup, l.dPos = l.bPos;
    if (ti.graphOutput) {
      l.dStage = INT_MAX, l.dSingle = false;
      continue;
    }
    bool first = true;
    for (int c : ti.consumers) {
      const NodePos& q = p.pos[static_cast<size_t>(c)];
      if (first || q.stage > l.dStage) {
        l.dStage = q.stage, l.dSingle = true, l.dGroup = q.group, l.dPos = q.pos;
        first = false;
      } else if (q.stage == l.dStage) {
        if (q.group != l.dGroup) l.dSingle = false;
        l.dPos = std::max(l.dPos, q.pos);
      }
    }
  }
  for (int t : live)
    if (holder[static_cast<size_t>(t)] >= 0) life[static_cast<size_t>(holder[static_cast<size_t>(t)])] = unite(life[static_cast<size_t>(holder[static_cast<size_t>(t)])], life[static_cast<size_t>(t)]);
  live.erase(std::remove_if(live.begin(), live.end(), [&](int t) { return holder[static_cast<size_t>(t)] >= 0; }), live.end());
  // Sweep by offset: only tensors whose byte ranges intersect are compared.
  std::sort(live.begin(), live.end(), [&](int a, int b) { return p.offsets[static_cast<size_t>(a)] < p.offsets[static_cast<size_t>(b)]; });
  std::vector<int> active;
  for (int t : live) {
    int64_t start = p.offsets[static_cast<size_t>(t)];
    active.erase(std::remove_if(active.begin(), active.end(),
                                [&](int a) { return p.offsets[static_cast<size_t>(a)] + static_cast<int64_t>(m.tensors[static_cast<size_t>(a)].bytes) <= start; }),
                 active.end());
    for (int a : active) {
      const Life& la = life[static_cast<size_t>(a)];
      const Life& lt = life[static_cast<size_t>(t)];
      if (diesBefore(la, lt) || diesBefore(lt, la)) continue;
      const TensorInfo& ta = m.tensors[static_cast<size_t>(a)];
      const TensorInfo& tt = m.tensors[static_cast<size_t>(t)];
      auto held = [&](int x) {
        const int producer = m.tensors[static_cast<size_t>(x)].producer;
        return producer >= 0 && p.slicedConcat[static_cast<size_t>(producer)] ? std::string(" (with the in-place Concat inputs written into it)") : std::string();
      };
      throw Error(where + ": bad offsets: tensors '" + ta.name + "' [" + std::to_string(p.offsets[static_cast<size_t>(a)]) + ", +" + std::to_string(ta.bytes) + ")" + held(a) + " and '" + tt.name + "' [" +
                  std::to_string(start) + ", +" + std::to_string(tt.bytes) + ")" + held(t) + " overlap while both can be live ('" + ta.name + "': " + lifeStr(la) + "; '" + tt.name +
                  "': " + lifeStr(lt) + ")");
    }
    active.push_back(t);
  }
  p.hasPlan = true;
}

}  // namespace ts
