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

}  // namespace ts
