// A prepared (model, schedule, memory plan): the schedule checked and turned into stages of groups
// of steps, merge stages fused into one convolution each, and the memory plan (when given) checked
// for overflow and for overlapping tensors that can be live at the same time.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "model.hpp"

namespace ts {

/** A fused convolution for a merge stage: one conv over the shared input, split afterwards. */
struct MergedConv {
  std::shared_ptr<Kernel> kernel;
  std::shared_ptr<const void> consts;
  /** Splits the fused output [N, sum O, H, W] back into each conv's output. */
  std::shared_ptr<Kernel> split;
  void* weights = nullptr;  // device memory: [sum O, C, KH, KW] then [sum O] bias
  size_t weightBytes = 0;
  size_t biasOffset = 0;
  Backend* backend = nullptr;
  Shape fusedShape;              // [N, sum O, H, W]
  std::vector<int64_t> channels;  // O of each conv, in group order
  ~MergedConv();
};

/** TOPSCHED_SMALL_OP_FLOPS (default 4 MFLOP): a step under it runs on one thread when its stream's
 *  ops are multi-threaded and the schedule names no count (see executor.cpp, stepThreads). */
double smallOpFlops();

/**
 * The executor's measured choice between one thread and the stream's count for a step whose count
 * is its own to pick (no schedule count, a multi-threaded stream): the step's first runs take turns
 * with each (`samples` apiece), then the faster median stays. Neither a FLOP threshold nor a
 * per-op-kind rule picks well on its own here: on the 2-core EPYC a 6.5 MFLOP 1x1 conv gains from
 * two threads while a depthwise conv of 8.6 MFLOP loses, and a 2.6 MFLOP batch-1 Gemm, bound by
 * its 5 MB of weights, gains. opThreadChoice 'rule' (TOPSCHED_OP_THREADS=rule) keeps the FLOP rule
 * alone (smallOpFlops).
 */
struct ThreadTrial {
  static constexpr int samples = 3;
  /** The one-thread kernel (the step's other is its own kernel, else the node's, built for the stream's count). */
  std::shared_ptr<Kernel> kernel;
  std::shared_ptr<const void> consts;
  /** -1 while measuring; then 0 (the step's count: its group's, else the stream's) or 1 (one thread). */
  std::atomic<int> decided{-1};
  /** The variant the next run of the step takes (0 or 1), or -1 once decided. */
  int next();
  void record(int variant, int64_t ns);

 private:
  std::mutex mu_;
  int64_t ns_[2][samples] = {};
  int count_[2] = {0, 0};
  int turn_ = 0;
};

struct Step {
  /** The node, or every conv of a merge stage (group order). */
  std::vector<int> nodes;
  /** Distinct non-weight tensors the step reads (for freeing) and the tensors it writes. */
  std::vector<int> reads;
  std::vector<int> writes;
  std::shared_ptr<MergedConv> merge;
  /** Estimated cost (arbitrary units) used to balance streams. */
  double cost = 0;
  /** Intra-op threads of this step: the schedule's per-group count (a hybrid schedule), or 0 for the
   *  executor's choice (its opThreads, or 1 for an op too small to gain from a thread team). */
  int threads = 0;
  /** 2·MACs + other FLOPs of the step's nodes (the size the executor's choice looks at). */
  double flops = 0;
  /** The kernel (and constants) built for this step's thread count when it differs from the
   *  backend's default; null: the node's own (Model::kernelFor). */
  std::shared_ptr<Kernel> kernel;
  std::shared_ptr<const void> consts;
  /** Set when the executor measures this step's thread count (ThreadTrial). */
  std::shared_ptr<ThreadTrial> trial;
};

struct GroupPlan {
  std::vector<Step> steps;
  double cost = 0;
};

struct StagePlan {
  bool merge = false;
  std::vector<GroupPlan> groups;
};

struct NodePos {
  int stage = -1, group = -1, pos = -1;
};

struct Prepared {
  std::shared_ptr<Model> model;
  std::vector<StagePlan> stages;
  std::vector<NodePos> pos;  // per node
  /** Per tensor: steps reading it, +1 for graph outputs (held to the end of the task). */
  std::vector<int> useCount;
  bool hasPlan = false;
  size_t arenaBytes = 0;
  std::vector<int64_t> offsets;  // per tensor, -1 for weights
  /** Per node: an in-place Concat whose inputs the plan places in their slices (checkPlan); its
   *  'planned' runs skip it. */
  std::vector<bool> slicedConcat;
  size_t stepCount = 0;
};

/**
 * doc: { schedule: {model, batch, stages: [{kind, groups}]}, plan?: {arenaBytes, offsets: {tensor: byte offset}},
 *       partial?: bool (the stages need not cover every node: for timing single stages) }.
 * Throws Error naming the rule and node (schedule) or tensor (plan).
 */
std::shared_ptr<Prepared> prepare(const std::shared_ptr<Model>& model, const json& doc, Backend& backend);

}  // namespace ts
