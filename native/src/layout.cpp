#include "layout.hpp"

#include <numeric>

namespace ts {

namespace {

struct UnionFind {
  std::vector<int> parent;
  explicit UnionFind(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int find(int a) {
    while (parent[static_cast<size_t>(a)] != a) a = parent[static_cast<size_t>(a)] = parent[static_cast<size_t>(parent[static_cast<size_t>(a)])];
    return a;
  }
  void join(int a, int b) { parent[static_cast<size_t>(find(a))] = find(b); }
};

bool isActivation4d(const TensorInfo& t) { return t.kind != TensorKind::Weight && t.shape.size() == 4; }

}  // namespace

int assignLayouts(Model& m, const Backend& backend) {
  const int layout = backend.activationLayout();
  for (auto& t : m.tensors) t.layout = Layout::Plain;
  if (layout == Layout::Plain) return 0;
  const int block = layout == Layout::Blocked8 || layout == Layout::Blocked16 ? layout : 1;
  const size_t nt = m.tensors.size();
  std::vector<LayoutRole> role(m.nodes.size());
  for (size_t n = 0; n < m.nodes.size(); n++) role[n] = backend.layoutRole(m.spec(static_cast<int>(n)));

  std::vector<bool> eligible(nt, false), touchesFree(nt, false);
  for (size_t t = 0; t < nt; t++) {
    const TensorInfo& ti = m.tensors[t];
    eligible[t] = ti.kind == TensorKind::Activation && !ti.graphOutput && ti.producer >= 0 && ti.shape.size() == 4 && ti.dtype == DType::F32 &&
                  ti.shape[1] % block == 0;
  }
  auto visit = [&](int node, int t) {
    LayoutRole r = role[static_cast<size_t>(node)];
    if (r == LayoutRole::Plain) eligible[static_cast<size_t>(t)] = false;
    if (r == LayoutRole::Free) touchesFree[static_cast<size_t>(t)] = true;
  };
  UnionFind uf(nt);
  for (size_t n = 0; n < m.nodes.size(); n++) {
    const NodeInfo& node = m.nodes[n];
    int first = -1;
    for (const auto* list : {&node.inputs, &node.outputs})
      for (int t : *list) {
        if (m.tensors[static_cast<size_t>(t)].kind == TensorKind::Weight) continue;
        visit(static_cast<int>(n), t);
        // A Tied op's 3-D operand (a broadcast, say) would read a blocked tensor as plain: its
        // role check (layoutRole) already refuses such ops; joining every 4-D one is what ties them.
        if (role[n] == LayoutRole::Tied && isActivation4d(m.tensors[static_cast<size_t>(t)])) {
          if (first < 0)
            first = t;
          else
            uf.join(first, t);
        }
      }
  }
  // Graph inputs are ineligible (no producer), so a Tied op reading one keeps its component plain.
  std::vector<int> ok(nt, 1), free(nt, 0);
  for (size_t t = 0; t < nt; t++) {
    if (!isActivation4d(m.tensors[t])) continue;
    int r = uf.find(static_cast<int>(t));
    ok[static_cast<size_t>(r)] &= eligible[t] ? 1 : 0;
    free[static_cast<size_t>(r)] |= touchesFree[t] ? 1 : 0;
  }
  int count = 0;
  for (size_t t = 0; t < nt; t++) {
    if (!isActivation4d(m.tensors[t])) continue;
    int r = uf.find(static_cast<int>(t));
    if (ok[static_cast<size_t>(r)] && free[static_cast<size_t>(r)]) {
      m.tensors[t].layout = layout;
      count++;
    }
  }
  return count;
}

}  // namespace ts
