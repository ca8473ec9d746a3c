// Profiler (IOS-style warm-up / number / repeat): per-op latency alone on one stream, per-stage
// latency with the stage's groups on their streams, and co-run slowdown of pairs of ops run on two
// streams at once. Run it on an idle executor: other work in flight distorts the numbers.
#pragma once

#include "executor.hpp"

namespace ts {

/**
 * opts: {warmup = 2, number = 10, repeat = 5, ops = true, stages = true,
 *        pairs = [[nodeA, nodeB], ...], corunMs = 20}
 * Returns {ops: {node: {meanMs, medianMs, minMs, stdMs}}, stages: [{index, groups, meanMs, medianMs,
 * minMs, stdMs}], pairs: [{a, b, aloneMs: [a, b], corunMs: [a, b], slowdown: [a, b]}], settings}.
 */
json profile(Executor& ex, const std::shared_ptr<Prepared>& p, const json& opts);

/**
 * IOS's measured cost: times candidate stages of one model on the executor's streams during a
 * schedule search. Every activation gets its own memory, filled once by a sequential pass, so any
 * stage can run at any time and read realistic values. Blocks the calling thread; the executor
 * must be otherwise idle.
 */
class StageMeter {
 public:
  StageMeter(Executor& ex, std::shared_ptr<Model> model);
  ~StageMeter();
  StageMeter(const StageMeter&) = delete;
  StageMeter& operator=(const StageMeter&) = delete;
  /** stage: {kind, groups, threads?}; opts: {warmup = 2, number = 5, repeat = 3}. Returns
   *  {medianMs, meanMs, minMs, stdMs} per run of the stage (its groups on up to `streams` streams). */
  json measure(const json& stage, const json& opts);

 private:
  Executor& ex_;
  std::shared_ptr<Model> model_;
  ArenaPool::Lease arena_;
  std::vector<void*> ptr_;
};

}  // namespace ts
