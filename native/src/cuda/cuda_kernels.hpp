// Kernel factories of the CUDA backend. ops_*.cpp wrap the hand-written kernels (k_*.cu) and cover
// every op of graphs/ops.ts OP_TYPES; lib_ops.cpp wraps cuDNN / cuBLAS and returns null where the
// library is absent or cannot express the ONNX semantics, so the own kernel takes over.
#pragma once

#include <memory>
#include <string>

#include "../backend.hpp"
#include "cuda_context.hpp"
#include "launch.hpp"
#include "libs.hpp"

namespace ts::cuda {

using KernelPtr = std::shared_ptr<Kernel>;

class CudaKernel : public Kernel {
 public:
  explicit CudaKernel(std::string name) : name_(std::move(name)) {}
  std::string impl() const override { return "cuda:" + name_; }

 protected:
  static CudaContext& ctx(const KernelArgs& a) { return static_cast<CudaContext&>(*a.ctx); }
  /** Reports launch errors and, on executor streams, waits for completion (cuda_context.hpp). */
  void done(const KernelArgs& a) const { ctx(a).finish(name_.c_str()); }

 private:
  std::string name_;
};

[[noreturn]] void unsupported(const OpSpec& s, const std::string& why);
void requireF32(const OpSpec& s);
/** Shapes of rank > kMaxRank are refused by name (the kernels index with fixed-size arrays). */
void requireRank(const OpSpec& s, const Shape& shape, const char* what);

/** Row-major strides; broadcast strides of `in` read in `out`'s rank (0 on broadcast dims). */
Shape rowStrides(const Shape& s);
Shape broadcastStrides(const Shape& in, const Shape& out);
/** A Strided view over `out` (rank 0 becomes {1}) with operand strides a (and b). */
Strided makeStrided(const Shape& out, const Shape& a, const Shape& b = {});

// ops_basic.cpp
KernelPtr makeCopy(const OpSpec& s);
KernelPtr makeConcat(const OpSpec& s);
KernelPtr makeSplit(const OpSpec& s);
KernelPtr makeBatchNorm(const OpSpec& s);
KernelPtr makeUnary(const OpSpec& s);
KernelPtr makeBinary(const OpSpec& s);
KernelPtr makeExpand(const OpSpec& s);
KernelPtr makeTranspose(const OpSpec& s);
KernelPtr makePad(const OpSpec& s);
KernelPtr makeGather(const OpSpec& s);

// ops_spatial.cpp
KernelPtr makeResize(const OpSpec& s);
KernelPtr makePool(const OpSpec& s);
KernelPtr makeConv(const OpSpec& s);
KernelPtr makeConvTranspose(const OpSpec& s);
KernelPtr makeGemm(const OpSpec& s);
KernelPtr makeMatMul(const OpSpec& s);
KernelPtr makeSoftmax(const OpSpec& s);
KernelPtr makeLayerNorm(const OpSpec& s);
KernelPtr makeReduce(const OpSpec& s);

/** Window attributes of a 2-D conv / pool, checked as the CPU backend checks them. */
struct Window2d {
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0, pb = 0, pr = 0;
};
Window2d convWindow(const OpSpec& s, int64_t kh, int64_t kw);
Window2d poolWindow(const OpSpec& s);

// lib_ops.cpp: null when the library is absent or the case is not expressible.
KernelPtr makeCudnnConv(const OpSpec& s, Libs& libs);
KernelPtr makeCudnnPool(const OpSpec& s, Libs& libs);
KernelPtr makeCudnnSoftmax(const OpSpec& s, Libs& libs);
KernelPtr makeCudnnActivation(const OpSpec& s, Libs& libs);
KernelPtr makeCudnnBatchNorm(const OpSpec& s, Libs& libs);
KernelPtr makeCublasGemm(const OpSpec& s, Libs& libs);
KernelPtr makeCublasMatMul(const OpSpec& s, Libs& libs);

}  // namespace ts::cuda
