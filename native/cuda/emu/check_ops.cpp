// Runs the CUDA backend's op classes (native/src/cuda/ops_*.cpp with the real k_*.cu kernels) on
// the CPU emulation (cuda_runtime_api.h here) and compares each op's outputs with the CPU
// backend's kernels on the same OpSpec: the CPU kernels are the spec of every op's semantics.
// Covers every op of graphs/ops.ts OP_TYPES, with the attribute forms the model zoo uses. Prints
// one line per case and "N passed, M failed"; exits 1 on any failure.
#include <cstdio>
#include <functional>
#include <random>

#include "../../src/cuda/cuda_kernels.hpp"

namespace ts {
std::unique_ptr<Backend> createCpuBackend(const BackendOptions& opts);
}

using namespace ts;

namespace {

std::mt19937 rng(7);
int passed = 0, failed = 0;

struct In {
  Shape shape;
  DType dt = DType::F32;
  bool constant = false;
  std::vector<uint8_t> data;  // empty: random floats
};

std::vector<uint8_t> randomFloats(int64_t n, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<uint8_t> b(static_cast<size_t>(n) * 4);
  for (int64_t i = 0; i < n; i++) {
    float v = d(rng);
    std::memcpy(b.data() + 4 * i, &v, 4);
  }
  return b;
}

std::vector<uint8_t> ints(std::initializer_list<int64_t> v) {
  std::vector<uint8_t> b(v.size() * 8);
  size_t i = 0;
  for (int64_t x : v) std::memcpy(b.data() + 8 * i++, &x, 8);
  return b;
}

cuda::KernelPtr cudaKernel(const OpSpec& s) {
  const std::string& op = s.op;
  if (op == "Conv") return cuda::makeConv(s);
  if (op == "ConvTranspose") return cuda::makeConvTranspose(s);
  if (op == "Gemm") return cuda::makeGemm(s);
  if (op == "MatMul") return cuda::makeMatMul(s);
  if (op == "BatchNormalization") return cuda::makeBatchNorm(s);
  for (const char* u : {"Relu", "Clip", "Sigmoid", "Tanh", "Gelu", "HardSigmoid", "LeakyRelu", "HardSwish", "Sqrt", "Exp", "Log", "Abs", "Neg", "Reciprocal", "Erf"})
    if (op == u) return cuda::makeUnary(s);
  for (const char* b : {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "PRelu"})
    if (op == b) return cuda::makeBinary(s);
  if (op == "Concat") return cuda::makeConcat(s);
  if (op == "Split") return cuda::makeSplit(s);
  if (op == "Reshape" || op == "Flatten" || op == "Identity") return cuda::makeCopy(s);
  if (op == "Transpose") return cuda::makeTranspose(s);
  if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool") return cuda::makePool(s);
  if (op == "Resize") return cuda::makeResize(s);
  if (op == "Softmax") return cuda::makeSoftmax(s);
  if (op == "LayerNormalization") return cuda::makeLayerNorm(s);
  if (op == "Pad") return cuda::makePad(s);
  if (op == "Gather") return cuda::makeGather(s);
  if (op == "Expand") return cuda::makeExpand(s);
  if (op == "ReduceSum" || op == "ReduceMean") return cuda::makeReduce(s);
  throw Error("no CUDA kernel for " + op);
}

Backend* cpuBackend() {
  static std::unique_ptr<Backend> b = createCpuBackend(BackendOptions{});
  return b.get();
}

Stream* cpuStream() {
  static std::unique_ptr<Stream> s = cpuBackend()->createStream(0);
  return s.get();
}

/** Runs `op` on both backends with the same inputs and compares every output. */
void check(const std::string& name, const std::string& op, const json& attrs, std::vector<In> ins, const std::vector<Shape>& outs, std::vector<DType> outDt = {}) {
  OpSpec s;
  s.id = name, s.op = op, s.attrs = attrs;
  for (auto& in : ins) {
    if (in.data.empty()) in.data = randomFloats(numel(in.shape), -1.f, 1.f);
    s.ins.push_back({in.shape, in.dt, in.constant ? in.data.data() : nullptr});
  }
  if (outDt.empty()) outDt.assign(outs.size(), DType::F32);
  s.outShapes = outs, s.outDtypes = outDt;
  std::vector<const void*> inPtrs;
  for (auto& in : ins) inPtrs.push_back(in.data.data());
  auto run = [&](Kernel& k, ExecContext& ctx, std::vector<std::vector<uint8_t>>& y) {
    auto consts = k.prepare(s);
    std::vector<void*> outPtrs;
    for (size_t i = 0; i < outs.size(); i++) {
      y.emplace_back(static_cast<size_t>(numel(outs[i])) * dtypeSize(outDt[i]), 0xAB);
      outPtrs.push_back(y.back().data());
    }
    k.run({inPtrs.data(), outPtrs.data(), consts.get(), &ctx});
  };
  std::vector<std::vector<uint8_t>> yc, yg;
  std::string why;
  try {
    // The CPU kernel runs on a CPU stream: its context carries the backend's oneDNN engine.
    auto ck = cpuBackend()->compile(s);
    struct Job {
      std::function<void(ExecContext&)> fn;
      std::string error;
      static void call(void* p, ExecContext& ctx) {
        auto* j = static_cast<Job*>(p);
        try {
          j->fn(ctx);
        } catch (const std::exception& e) {
          j->error = e.what();
        }
      }
    } job{[&](ExecContext& ctx) { run(*ck, ctx, yc); }, ""};
    Command cmd = Command::call(&Job::call, &job);
    cpuStream()->submit(&cmd, 1);
    cpuStream()->drain();
    if (!job.error.empty()) throw Error(job.error);
    auto gk = cudaKernel(s);
    cuda::CudaContext gctx(nullptr, nullptr, 0);
    run(*gk, gctx, yg);
  } catch (const std::exception& e) {
    why = e.what();
  }
  double worst = 0;
  for (size_t i = 0; why.empty() && i < outs.size(); i++) {
    double num = 0, den = 1e-6;
    size_t n = static_cast<size_t>(numel(outs[i]));
    for (size_t k = 0; k < n; k++) {
      double a, b;
      if (outDt[i] == DType::I64) {
        int64_t u, v;
        std::memcpy(&u, yg[i].data() + 8 * k, 8), std::memcpy(&v, yc[i].data() + 8 * k, 8);
        a = static_cast<double>(u), b = static_cast<double>(v);
      } else {
        float u, v;
        std::memcpy(&u, yg[i].data() + 4 * k, 4), std::memcpy(&v, yc[i].data() + 4 * k, 4);
        a = u, b = v;
      }
      if (!std::isfinite(a) || !std::isfinite(b)) num = INFINITY;
      num = std::max(num, std::fabs(a - b)), den = std::max(den, std::fabs(b));
    }
    worst = std::max(worst, num / den);
  }
  bool ok = why.empty() && worst <= 1e-4;
  (ok ? passed : failed)++;
  if (why.empty()) std::printf("%s %-34s max rel diff %.2g\n", ok ? "ok  " : "FAIL", name.c_str(), worst);
  else std::printf("FAIL %-34s %s\n", name.c_str(), why.c_str());
}

In c(Shape s) { return {std::move(s), DType::F32, true, {}}; }
In a(Shape s) { return {std::move(s), DType::F32, false, {}}; }

}  // namespace

int main() {
  using J = json;
  // Convolutions: asymmetric pads + stride, groups + dilation, depthwise, 1×1 (GEMM path), wide window.
  check("conv asym pads, stride 2", "Conv", J{{"pads", {0, 1, 1, 0}}, {"strides", {2, 2}}}, {a({2, 4, 13, 13}), c({8, 4, 3, 3}), c({8})}, {{2, 8, 6, 6}});
  check("conv groups 2, dilation 2", "Conv", J{{"group", 2}, {"dilations", {2, 2}}, {"pads", {2, 2, 2, 2}}}, {a({2, 6, 9, 9}), c({6, 3, 3, 3})}, {{2, 6, 9, 9}});
  check("conv depthwise", "Conv", J{{"group", 6}, {"pads", {1, 1, 1, 1}}}, {a({1, 6, 9, 9}), c({6, 1, 3, 3}), c({6})}, {{1, 6, 9, 9}});
  check("conv 1x1 (gemm)", "Conv", J::object(), {a({2, 5, 7, 7}), c({3, 5, 1, 1}), c({3})}, {{2, 3, 7, 7}});
  check("conv 7x7, 40 channels", "Conv", J{{"pads", {3, 3, 3, 3}}, {"strides", {2, 2}}}, {a({1, 40, 11, 11}), c({5, 40, 7, 7}), c({5})}, {{1, 5, 6, 6}});
  check("convtranspose s2 outpad 1", "ConvTranspose", J{{"strides", {2, 2}}, {"pads", {1, 1, 1, 1}}, {"output_padding", {1, 1}}}, {a({2, 8, 6, 6}), c({8, 6, 3, 3}), c({6})},
        {{2, 6, 12, 12}});
  check("convtranspose groups 2", "ConvTranspose", J{{"group", 2}}, {a({2, 6, 5, 5}), c({6, 2, 2, 2})}, {{2, 4, 6, 6}});
  // Linear algebra.
  check("gemm transB alpha beta", "Gemm", J{{"transB", 1}, {"alpha", 0.5}, {"beta", 2}}, {a({3, 24}), c({7, 24}), c({7})}, {{3, 7}});
  check("gemm transA", "Gemm", J{{"transA", 1}}, {a({7, 3}), c({7, 4})}, {{3, 4}});
  check("gemm activation C", "Gemm", J::object(), {a({2, 3}), c({3, 4}), a({2, 4})}, {{2, 4}});
  check("matmul batch broadcast", "MatMul", J::object(), {a({2, 3, 4, 5}), a({1, 3, 5, 2})}, {{2, 3, 4, 2}});
  check("matmul rank 3 x weight", "MatMul", J::object(), {a({2, 4, 15}), c({15, 6})}, {{2, 4, 6}});
  // Normalization and activations.
  In var = c({4});
  var.data = randomFloats(4, 0.5f, 2.f);
  check("batchnorm", "BatchNormalization", J{{"epsilon", 1e-5}}, {a({2, 4, 5, 5}), c({4}), c({4}), c({4}), var}, {{2, 4, 5, 5}});
  for (const char* op : {"Relu", "Sigmoid", "Tanh"}) check(op, op, J::object(), {a({3, 50})}, {{3, 50}});
  check("clip", "Clip", J{{"min", -0.5}, {"max", 0.7}}, {a({3, 50})}, {{3, 50}});
  check("gelu erf", "Gelu", J::object(), {a({3, 50})}, {{3, 50}});
  check("gelu tanh", "Gelu", J{{"approximate", "tanh"}}, {a({3, 50})}, {{3, 50}});
  check("hardsigmoid", "HardSigmoid", J{{"alpha", 0.3}, {"beta", 0.4}}, {a({3, 50})}, {{3, 50}});
  check("leakyrelu", "LeakyRelu", J{{"alpha", 0.2}}, {a({3, 50})}, {{3, 50}});
  for (const char* op : {"HardSwish", "Exp", "Abs", "Neg", "Erf"}) check(op, op, J::object(), {a({3, 50})}, {{3, 50}});
  In positive = a({3, 50});
  positive.data = randomFloats(150, 0.5f, 2.f);
  for (const char* op : {"Sqrt", "Log", "Reciprocal"}) check(op, op, J::object(), {positive}, {{3, 50}});
  check("pow broadcast", "Pow", J::object(), {positive, c({50})}, {{3, 50}});
  for (const char* op : {"Max", "Min"}) check(std::string(op) + " broadcast", op, J::object(), {a({2, 3, 4, 5}), a({3, 1, 5})}, {{2, 3, 4, 5}});
  check("prelu per channel", "PRelu", J::object(), {a({2, 3, 4, 5}), c({3, 1, 1})}, {{2, 3, 4, 5}});
  check("softmax last axis", "Softmax", J{{"axis", -1}}, {a({3, 300})}, {{3, 300}});
  check("softmax middle axis", "Softmax", J{{"axis", 1}}, {a({2, 3, 4})}, {{2, 3, 4}});
  check("layernorm last axis", "LayerNormalization", J{{"axis", -1}}, {a({2, 4, 6}), c({6}), c({6})}, {{2, 4, 6}});
  check("layernorm axis 1, no bias", "LayerNormalization", J{{"axis", 1}}, {a({2, 3, 4}), c({3, 4})}, {{2, 3, 4}});
  // Broadcasting binaries (either side).
  for (const char* op : {"Add", "Sub", "Mul"}) check(std::string(op) + " broadcast", op, J::object(), {a({2, 3, 4, 5}), a({3, 1, 5})}, {{2, 3, 4, 5}});
  check("sub, first operand broadcast", "Sub", J::object(), {c({1, 3, 1, 1}), a({2, 3, 4, 5})}, {{2, 3, 4, 5}});
  In den = a({3, 1, 5});
  den.data = randomFloats(15, 0.5f, 2.f);
  check("div broadcast", "Div", J::object(), {a({2, 3, 4, 5}), den}, {{2, 3, 4, 5}});
  check("mul scalar", "Mul", J::object(), {a({2, 3, 4}), c({})}, {{2, 3, 4}});
  // Data movement.
  check("concat axis 1", "Concat", J{{"axis", 1}}, {a({2, 3, 4}), a({2, 5, 4})}, {{2, 8, 4}});
  check("split axis 1", "Split", J{{"axis", 1}, {"split", {1, 2}}}, {a({1, 3, 6, 7})}, {{1, 1, 6, 7}, {1, 2, 6, 7}});
  check("reshape", "Reshape", J{{"shape", {6, 4}}}, {a({2, 3, 4})}, {{6, 4}});
  check("flatten", "Flatten", J{{"axis", 1}}, {a({2, 3, 4})}, {{2, 12}});
  check("identity", "Identity", J::object(), {a({5})}, {{5}});
  check("transpose perm", "Transpose", J{{"perm", {0, 2, 3, 1}}}, {a({2, 3, 4, 5})}, {{2, 4, 5, 3}});
  check("transpose default", "Transpose", J::object(), {a({2, 3, 4})}, {{4, 3, 2}});
  check("expand", "Expand", J{{"shape", {2, 5, 4}}}, {a({2, 5, 1})}, {{2, 5, 4}});
  check("pad negative (crop)", "Pad", J{{"pads", {0, 0, 1, -1, 0, 0, 2, 1}}, {"value", 0.25}}, {a({1, 3, 6, 7})}, {{1, 3, 9, 7}});
  In ids{{2, 5}, DType::I64, false, ints({0, 3, 10, 7, 1, 2, 9, 4, 4, 6})};
  check("gather embedding", "Gather", J{{"axis", 0}}, {c({11, 4}), ids}, {{2, 5, 4}});
  In idx{{2}, DType::I64, true, ints({2, -3})};
  check("gather axis 1, negative index", "Gather", J{{"axis", 1}}, {c({3, 9}), idx}, {{3, 2}});
  check("reducesum axis 1", "ReduceSum", J{{"axes", {1}}, {"keepdims", 0}}, {a({2, 5, 4})}, {{2, 4}});
  check("reducemean axis 2 keepdims", "ReduceMean", J{{"axes", {2}}, {"keepdims", 1}}, {a({2, 5, 4})}, {{2, 5, 1}});
  check("reducemean spatial (block)", "ReduceMean", J{{"axes", {2, 3}}, {"keepdims", 1}}, {a({2, 3, 20, 30})}, {{2, 3, 1, 1}});
  // Pooling: ceil_mode with a window past the padded input, count_include_pad both ways.
  check("maxpool ceil", "MaxPool", J{{"kernel_shape", {3, 3}}, {"strides", {2, 2}}, {"pads", {1, 1, 1, 1}}, {"ceil_mode", 1}}, {a({1, 3, 8, 8})}, {{1, 3, 5, 5}});
  check("avgpool ceil include pad", "AveragePool", J{{"kernel_shape", {3, 3}}, {"strides", {2, 2}}, {"pads", {1, 1, 1, 1}}, {"ceil_mode", 1}, {"count_include_pad", 1}},
        {a({1, 3, 8, 8})}, {{1, 3, 5, 5}});
  check("avgpool ceil exclude pad", "AveragePool", J{{"kernel_shape", {3, 3}}, {"strides", {2, 2}}, {"pads", {1, 1, 1, 1}}, {"ceil_mode", 1}}, {a({1, 3, 8, 8})},
        {{1, 3, 5, 5}});
  check("avgpool 2x2", "AveragePool", J{{"kernel_shape", {2, 2}}, {"strides", {2, 2}}, {"count_include_pad", 1}}, {a({2, 6, 8, 8})}, {{2, 6, 4, 4}});
  check("global average pool", "GlobalAveragePool", J::object(), {a({2, 6, 5, 5})}, {{2, 6, 1, 1}});
  // Resize: every coordinate mode the CPU kernel supports.
  check("resize nearest x2", "Resize", J{{"scales", {1, 1, 2, 2}}, {"mode", "nearest"}}, {a({1, 2, 3, 4})}, {{1, 2, 6, 8}});
  check("resize linear x1.5", "Resize", J{{"scales", {1, 1, 1.5, 1.5}}, {"mode", "linear"}}, {a({1, 2, 3, 4})}, {{1, 2, 4, 6}});
  check("resize linear align_corners", "Resize", J{{"scales", {1, 1, 7.0 / 3, 7.0 / 3}}, {"mode", "linear"}, {"coordinate_transformation_mode", "align_corners"}},
        {a({1, 1, 3, 3})}, {{1, 1, 7, 7}});
  check("resize nearest asymmetric floor", "Resize",
        J{{"scales", {1, 1, 0.5, 0.5}}, {"mode", "nearest"}, {"coordinate_transformation_mode", "asymmetric"}, {"nearest_mode", "floor"}}, {a({1, 2, 6, 4})}, {{1, 2, 3, 2}});
  check("resize nearest pytorch_half_pixel", "Resize",
        J{{"scales", {1, 1, 3, 2}}, {"mode", "nearest"}, {"coordinate_transformation_mode", "pytorch_half_pixel"}, {"nearest_mode", "round_prefer_ceil"}},
        {a({1, 2, 3, 4})}, {{1, 2, 9, 8}});
  std::printf("cuda-emu: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
