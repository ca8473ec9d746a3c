// Base of every oneDNN-backed kernel: a primitive created once per signature plus the list of its
// arguments and where each comes from (an op input/output, a per-node constant, the scratchpad).
// Execution uses the C API with per-stream memory objects whose data handles are swapped in, so a
// dispatch allocates nothing (the C++ execute() builds an unordered_map per call).
#pragma once

#include <dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "../backend.hpp"
#include "../epilogue.hpp"

namespace ts::cpu {

/** The per-stream context of the CPU backend. */
class CpuContext : public ExecContext {
 public:
  explicit CpuContext(const dnnl::engine& eng) : stream(eng) {}
  dnnl::stream stream;
  void* scratch(size_t bytes) override { return scratch_.reserve(bytes); }
  void* temp(size_t bytes) override { return temp_.reserve(bytes); }
  /** oneDNN (OpenMP) and own kernels read the calling thread's OpenMP team size. */
  void setOpThreads(int n) override {
    if (n == opThreads) return;
    opThreads = n;
    omp_set_num_threads(n);
  }

 private:
  AlignedBuffer scratch_, temp_;
};

/** Values a kernel derives from weights once per node (reordered or scaled copies). */
struct ConstBufs {
  std::vector<AlignedBuffer> bufs;
};

/** Shared state of the CPU kernels: the engine and the number of streams (per-stream slots). */
struct DnnlEnv {
  dnnl::engine engine;
  int slots = 1;
};

/** Row-major (plain) descriptor; a rank-0 shape becomes {1}. */
dnnl::memory::desc plainMd(const Shape& shape, dnnl::memory::data_type dt = dnnl::memory::data_type::f32);
/** A tensor's descriptor in its assigned layout (a Layout code: OpSpec::inLayout). */
dnnl::memory::desc layoutMd(const Shape& shape, int layout);
/** The activation layout for this CPU (a Layout code): nChw16c / nChw8c where a jit convolution runs
 *  on it (AVX-512 / AVX2), else what oneDNN's convolution picks, else plain. */
int probeConvLayout(const dnnl::engine& eng);
/** Plain descriptor with explicit strides (elements). */
dnnl::memory::desc stridedMd(const Shape& dims, const Shape& strides);
dnnl::memory::dims toDims(const Shape& s);
/** oneDNN eltwise algorithm and parameters of an ONNX activation op; false when it has none. */
bool eltwiseFor(const std::string& op, const json& attrs, const std::string& where, dnnl::algorithm& alg, float& alpha, float& beta);
/** Primitive attributes with the node's epilogue appended to `ops` (the residual, then eltwise)
 *  and a user-managed scratchpad (as DnnlKernel::baseAttr). The residual is a sum post-op (dst
 *  holds it before the primitive runs) or, given its descriptor, a binary-add post-op reading it. */
dnnl::primitive_attr epilogueAttr(const Epilogue& e, const std::string& where, dnnl::post_ops ops = dnnl::post_ops(),
                                  const dnnl::memory::desc* residual = nullptr);

/**
 * One or more oneDNN primitives run in order (e.g. reorder → convolution → reorder). Arguments come
 * from the op's inputs/outputs, per-node constants, or this stream's scratch memory, which holds the
 * largest scratchpad of the primitives followed by the kernel's temporaries (blocked copies).
 */
class DnnlKernel : public Kernel {
 public:
  enum class Src : uint8_t { In, Out, Const, Scratch, Temp };
  struct Bind {
    int arg;
    dnnl::memory::desc md;
    Src src;
    int index;
  };

  DnnlKernel(const DnnlEnv& env, std::string name) : env_(env), name_(std::move(name)), slots_(static_cast<size_t>(env.slots)) {}
  void run(const KernelArgs& a) const override;
  /** e.g. "conv:jit:avx2", or "conv:simple:any+jit:avx2+simple:any" with reorders around it. */
  std::string impl() const override { return name_ + ":" + implName_; }

 protected:
  /** Appends a primitive; later bind() calls attach arguments to it. */
  template <typename PD, typename P>
  void setPrimitive(const PD& pd) {
    prims_.push_back({P(pd), {}});
    implName_ += (implName_.empty() ? "" : "+") + std::string(pd.impl_info_str());
    auto sp = pd.scratchpad_desc();
    if (sp.get_size() > 0) {
      prims_.back().binds.push_back({DNNL_ARG_SCRATCHPAD, sp, Src::Scratch, 0});
      scratchBytes_ = std::max(scratchBytes_, sp.get_size());
    }
  }
  void bind(int arg, const dnnl::memory::desc& md, Src src, int index) { prims_.back().binds.push_back({arg, md, src, index}); }
  /** Binds `arg` to temporary `temp`, or, when temp < 0, to input/output `index` itself. */
  void bindOrTemp(int arg, const dnnl::memory::desc& md, int temp, Src src, int index) {
    bind(arg, md, temp >= 0 ? Src::Temp : src, temp >= 0 ? temp : index);
  }
  /** Where a primitive wants input `index` (laid out as `from`) in layout `to`: a temporary and a
   *  reorder into it, returning the temporary; -1 when the layouts agree (read in place). */
  int reorderInput(const dnnl::memory::desc& from, const dnnl::memory::desc& to, int index);
  /** Reorders temporary `temp` (layout `from`) into output 0 (layout `to`); nothing when temp < 0. */
  void reorderOutput(const dnnl::memory::desc& from, int temp, const dnnl::memory::desc& to);
  /** A temporary of this kernel in stream scratch memory; returns its index for Src::Temp. */
  int addTemp(const dnnl::memory::desc& md) {
    temps_.push_back(md.get_size());
    return static_cast<int>(temps_.size() - 1);
  }
  /** Attributes every primitive gets: user-managed scratchpad (per stream, so concurrent runs of one
   *  primitive never share scratch memory). */
  static dnnl::primitive_attr baseAttr() {
    dnnl::primitive_attr a;
    a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return a;
  }

  DnnlEnv env_;
  std::string name_;
  std::string implName_;

 private:
  struct Prim {
    dnnl::primitive prim;
    std::vector<Bind> binds;
  };
  struct Slot {
    std::vector<std::vector<dnnl::memory>> mems;
    std::vector<std::vector<dnnl_exec_arg_t>> args;
  };
  std::vector<Prim> prims_;
  std::vector<size_t> temps_;
  size_t scratchBytes_ = 0;
  mutable std::vector<std::unique_ptr<Slot>> slots_;
};

}  // namespace ts::cpu
