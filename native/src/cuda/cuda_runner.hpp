// The CUDA schedule runner: one (model, schedule) run end to end on the device, asynchronously —
// the way a GPU is meant to be driven and the way Nimble runs an ahead-of-time schedule. Unlike the
// generic executor (which needs each op finished before its host bookkeeping, cuda_context.hpp),
// the runner owns all memory for the run (the schedule's memory plan when prepared with one, else
// one region per tensor), so nothing is freed while kernels are in flight:
//   H2D of the inputs (pinned or pageable staging) on stream 0 -> the stages, each group on its
//   stream with events for the stage barriers (the executor's edges) -> join on stream 0 -> D2H.
// Per-op times come from timing events recorded around every step on its stream, read after the
// run (cudaEventElapsedTime from the run's start event). With cudaGraph the stages are captured
// once (cudaStreamBeginCapture on stream 0, the other streams forked and joined by events),
// instantiated once per (model, schedule, batch, timing) and replayed with cudaGraphLaunch; the
// copies stay outside the graph (a pageable copy cannot be captured) and are timed separately.
#pragma once

#include "../executor.hpp"

namespace ts::cuda {

/**
 * opts: {iterations = 10, warmup = 2, cudaGraph = false, timing = true, staging = the backend's,
 *        outputs = false}
 * Returns {model, cudaGraph, staging, streams, iterations, wallMs, gpuMs, h2dMs, computeMs, d2hMs
 * (each {mean, median, min, max}), ops: [{node, stream, startMs, endMs}] and stages: [{startMs,
 * endMs}] of the last iteration (relative to its start event), graphNodes, captureMs,
 * instantiateMs}. With outputs, `outputs` receives one host blob per graph output.
 * The executor must be idle (like the profiler) and run the "cuda" backend.
 */
json runCudaSchedule(Executor& ex, const std::shared_ptr<Prepared>& p, const json& opts, std::vector<std::vector<uint8_t>>* outputs = nullptr);

}  // namespace ts::cuda
