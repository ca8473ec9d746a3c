// Convolution, transposed convolution, Gemm and MatMul on oneDNN. Activations are plain row-major
// (what ONNX says), except 4-D ones that layout.hpp keeps channel-blocked between convolutions.
#include <omp.h>

#include <cstring>

#include "kernels.hpp"

namespace ts::cpu {

using dnnl::algorithm;
using dnnl::memory;
using dnnl::prop_kind;
using tag = memory::format_tag;

namespace {

struct Window {
  memory::dims strides, dil, padL, padR;
};

/** Strides, oneDNN dilations (d − 1) and asymmetric pads of a 2-D conv from ONNX attributes. */
Window convWindow(const OpSpec& s) {
  const std::string w = s.where();
  std::string autoPad = attrStr(s.attrs, "auto_pad", "NOTSET", w);
  if (autoPad != "NOTSET") unsupported(s, "auto_pad '" + autoPad + "' (give explicit pads)");
  auto st = attrInts(s.attrs, "strides", {1, 1}, w);
  auto dl = attrInts(s.attrs, "dilations", {1, 1}, w);
  auto pd = attrInts(s.attrs, "pads", {0, 0, 0, 0}, w);
  if (st.size() != 2 || dl.size() != 2 || pd.size() != 4) unsupported(s, "only 2-D windows (strides[2], dilations[2], pads[4])");
  return {{st[0], st[1]}, {dl[0] - 1, dl[1] - 1}, {pd[0], pd[1]}, {pd[2], pd[3]}};
}

/** A oneDNN kernel whose epilogue may add a residual: the sum post-op accumulates onto dst. */
class EpilogueKernel : public DnnlKernel {
 protected:
  using DnnlKernel::DnnlKernel;
  /** Constant weights (`plain`, host values at prepare time) reordered once into the layout the
   *  primitive picked (`packed`), as onnxruntime prepacks its GEMM weights: appended to `into`, or,
   *  when that is null, returned as new per-node constants. */
  std::shared_ptr<const void> packWeights(const memory::desc& plain, const memory::desc& packed, const void* data, ConstBufs* into) const {
    auto c = into ? nullptr : std::make_shared<ConstBufs>();
    ConstBufs& bufs = into ? *into : *c;
    bufs.bufs.emplace_back(packed.get_size());
    // Single-threaded on purpose: most weights are small, and an OpenMP team per reorder costs more
    // than it saves (milliseconds each on a busy machine, seconds over NASNet's ~500 convolutions).
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    try {
      dnnl::stream strm(env_.engine);
      memory from(plain, env_.engine, const_cast<void*>(data));
      memory to(packed, env_.engine, bufs.bufs.back().data());
      dnnl::reorder(from, to).execute(strm, from, to);
      strm.wait();
    } catch (...) {
      omp_set_num_threads(saved);
      throw;
    }
    omp_set_num_threads(saved);
    return c;
  }
  /** Copies the residual (input `index`, plain `md`) into the primitive's destination (`cdst`:
   *  the output, or temporary `temp` when the primitive writes a blocked layout) before it runs. */
  void accumulateOnto(const memory::desc& md, const memory::desc& cdst, int index, int temp) {
    dnnl::reorder::primitive_desc r(env_.engine, md, env_.engine, cdst, baseAttr());
    setPrimitive<decltype(r), dnnl::reorder>(r);
    bind(DNNL_ARG_FROM, md, Src::In, index);
    bind(DNNL_ARG_TO, cdst, temp >= 0 ? Src::Temp : Src::Out, temp >= 0 ? temp : 0);
  }
};

/**
 * Convolution. oneDNN's fast CPU convolutions (jit direct, depthwise, 1×1) want blocked layouts: the
 * primitive is created with `any` formats and, when it picks another layout than the tensor's own
 * (plain, or blocked between convolutions: layout.hpp), the input is reordered into stream scratch
 * before it and the output reordered back after it; constant weights are reordered once per node (prepare). On this 2-core
 * AVX2 machine that beats plain im2col+gemm by 1.5–2× on 3×3 convs and ~15× on depthwise ones.
 */
class ConvKernel : public EpilogueKernel {
 public:
  ConvKernel(const OpSpec& s, const DnnlEnv& env) : EpilogueKernel(env, "conv") {
    const Shape& x = s.ins[0].shape;
    const Shape& w = s.ins[1].shape;
    if (x.size() != 4 || w.size() != 4) unsupported(s, "only 2-D convolution (NCHW input, OIHW weight)");
    int64_t g = attrInt(s.attrs, "group", 1, s.where());
    Window win = convWindow(s);
    // Activations come in their assigned layouts (layout.hpp): a blocked one oneDNN also picks needs no reorder.
    memory::desc src = layoutMd(x, s.inLayoutOf(0)), dst = layoutMd(s.outShapes[0], s.outLayoutOf(0));
    weiPlain_ = g == 1 ? plainMd(w) : plainMd({g, w[0] / g, w[1], w[2], w[3]});
    bool constW = s.ins[1].data != nullptr;
    auto any = [](const memory::desc& md) { return memory::desc(md.dims(), memory::data_type::f32, tag::any); };
    Epilogue ep = epilogueOf(s);
    const int nIn = static_cast<int>(s.ins.size()) - (ep.sum ? 1 : 0);
    bool bias = nIn > 2;
    memory::desc bmd = bias ? plainMd({w[0]}) : memory::desc();
    // A residual (fused_sum) is read in place by a binary-add post-op where oneDNN keeps a jit
    // kernel for it (the residual in the output's blocked layout, tried first); else it is copied
    // into the destination before the primitive runs (a sum post-op).
    const memory::desc resMd = ep.sum ? layoutMd(s.outShapes[0], s.inLayoutOf(static_cast<size_t>(nIn))) : memory::desc();
    auto build = [&](bool pinned, bool readResidual) {
      // Pinned: a tensor kept in a device layout is handed over as it lies (no reorder); else oneDNN picks.
      auto fmt = [&](const memory::desc& md, int layout) { return pinned && layout != Layout::Plain ? md : any(md); };
      dnnl::convolution_forward::desc d(prop_kind::forward_inference, algorithm::convolution_direct, fmt(src, s.inLayoutOf(0)), constW ? any(weiPlain_) : weiPlain_, bmd,
                                        fmt(dst, s.outLayoutOf(0)), win.strides, win.dil, win.padL, win.padR);
      return dnnl::convolution_forward::primitive_desc(d, epilogueAttr(ep, s.where(), dnnl::post_ops(), readResidual ? &resMd : nullptr), env.engine);
    };
    // oneDNN takes any layout through its reference or gemm convolutions: only a jit kernel counts.
    auto fast = [](const dnnl::convolution_forward::primitive_desc& p) {
      std::string impl = p.impl_info_str();
      return impl.find("ref") == std::string::npos && impl.find("gemm") == std::string::npos;
    };
    dnnl::convolution_forward::primitive_desc pd;
    bool pinnedOk = false;
    residualRead_ = false;
    if (s.inLayoutOf(0) != Layout::Plain || s.outLayoutOf(0) != Layout::Plain) {
      if (ep.sum && s.outLayoutOf(0) != Layout::Plain && s.inLayoutOf(static_cast<size_t>(nIn)) == s.outLayoutOf(0)) {
        try {
          pd = build(true, true);
          residualRead_ = pinnedOk = fast(pd);
        } catch (const dnnl::error&) {
        }
      }
      if (!pinnedOk) {
        try {
          pd = build(true, false);
          pinnedOk = fast(pd);
        } catch (const dnnl::error&) {
        }
      }
    }
    if (!pinnedOk && ep.sum) {
      try {
        pd = build(false, true);
        residualRead_ = pinnedOk = fast(pd);
      } catch (const dnnl::error&) {
      }
    }
    if (!pinnedOk) pd = build(false, false);
    memory::desc csrc = pd.src_desc(), cdst = pd.dst_desc();
    weiBlocked_ = pd.weights_desc();
    const int tSrc = reorderInput(src, csrc, 0);
    const int tDst = cdst != dst ? addTemp(cdst) : -1;
    if (ep.sum && !residualRead_) accumulateOnto(resMd, cdst, nIn, tDst);
    setPrimitive<decltype(pd), dnnl::convolution_forward>(pd);
    if (residualRead_) bind(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, resMd, Src::In, nIn);
    bindOrTemp(DNNL_ARG_SRC, csrc, tSrc, Src::In, 0);
    reorderW_ = weiBlocked_ != weiPlain_;
    bind(DNNL_ARG_WEIGHTS, weiBlocked_, reorderW_ ? Src::Const : Src::In, reorderW_ ? 0 : 1);
    if (bias) bind(DNNL_ARG_BIAS, bmd, Src::In, 2);
    bindOrTemp(DNNL_ARG_DST, cdst, tDst, Src::Out, 0);
    reorderOutput(cdst, tDst, dst);
  }

  /** Constant weights in the primitive's layout, once per node. */
  std::shared_ptr<const void> prepare(const OpSpec& s) const override { return reorderW_ ? packWeights(weiPlain_, weiBlocked_, s.ins[1].data, nullptr) : nullptr; }

 private:
  memory::desc weiPlain_, weiBlocked_;
  bool reorderW_ = false;
  bool residualRead_ = false;
};

class DeconvKernel : public DnnlKernel {
 public:
  DeconvKernel(const OpSpec& s, const DnnlEnv& env) : DnnlKernel(env, "deconv") {
    const Shape& x = s.ins[0].shape;
    const Shape& w = s.ins[1].shape;  // ONNX: [C_in, C_out / group, kh, kw]
    if (x.size() != 4 || w.size() != 4) unsupported(s, "only 2-D transposed convolution");
    const std::string wh = s.where();
    int64_t g = attrInt(s.attrs, "group", 1, wh);
    Window win = convWindow(s);
    auto outPad = attrInts(s.attrs, "output_padding", {0, 0}, wh);
    if (s.attrs.contains("output_shape")) unsupported(s, "attribute output_shape (give pads)");
    // ONNX output = s·(i−1) + output_padding + (k−1)·d + 1 − pad_begin − pad_end; oneDNN has no
    // output_padding, so it shrinks the end padding (which may go negative: extra rows at the end).
    win.padR[0] -= outPad[0];
    win.padR[1] -= outPad[1];
    memory::desc src = plainMd(x), dst = plainMd(s.outShapes[0]);
    // The ONNX weight's memory order is (g, i, o, h, w): oneDNN's iohw / giohw tags read it as is.
    memory::desc wei = g == 1 ? memory::desc({w[1], w[0], w[2], w[3]}, memory::data_type::f32, tag::iohw)
                              : memory::desc({g, w[1], w[0] / g, w[2], w[3]}, memory::data_type::f32, tag::giohw);
    bool bias = s.ins.size() > 2;
    memory::desc bmd = bias ? plainMd({s.outShapes[0][1]}) : memory::desc();
    dnnl::deconvolution_forward::desc d(prop_kind::forward_inference, algorithm::deconvolution_direct, src, wei, bmd, dst, win.strides, win.dil, win.padL,
                                        win.padR);
    dnnl::deconvolution_forward::primitive_desc pd(d, baseAttr(), env.engine);
    setPrimitive<decltype(pd), dnnl::deconvolution_forward>(pd);
    bind(DNNL_ARG_SRC, src, Src::In, 0);
    bind(DNNL_ARG_WEIGHTS, wei, Src::In, 1);
    if (bias) bind(DNNL_ARG_BIAS, bmd, Src::In, 2);
    bind(DNNL_ARG_DST, dst, Src::Out, 0);
  }
};

/**
 * ONNX Gemm: Y = alpha·A'·B' + beta·C. Transposes are strides on the descriptors. With alpha = 1, C
 * is the matmul bias; otherwise alpha is an output scale and C a binary-add post-op (applied after
 * the scale). beta is folded into a constant C; a non-constant C needs beta = 1.
 */
class GemmKernel : public EpilogueKernel {
 public:
  GemmKernel(const OpSpec& s, const DnnlEnv& env) : EpilogueKernel(env, "gemm") {
    const std::string wh = s.where();
    const Shape& a = s.ins[0].shape;
    const Shape& b = s.ins[1].shape;
    bool ta = attrInt(s.attrs, "transA", 0, wh) != 0, tb = attrInt(s.attrs, "transB", 0, wh) != 0;
    alpha_ = static_cast<float>(attrFloat(s.attrs, "alpha", 1.0, wh));
    beta_ = static_cast<float>(attrFloat(s.attrs, "beta", 1.0, wh));
    int64_t M = ta ? a[1] : a[0], K = ta ? a[0] : a[1], N = tb ? b[0] : b[1];
    memory::desc amd = stridedMd({M, K}, ta ? Shape{1, M} : Shape{K, 1});
    memory::desc bmd = stridedMd({K, N}, tb ? Shape{1, K} : Shape{N, 1});
    memory::desc dst = plainMd({M, N});
    Epilogue ep = epilogueOf(s);
    const int nIn = static_cast<int>(s.ins.size()) - (ep.sum ? 1 : 0);
    hasC_ = nIn > 2;
    memory::desc cmd;
    if (hasC_) {
      const Shape& c = s.ins[2].shape;
      Shape c2 = c.size() == 2 ? c : c.size() == 1 ? Shape{1, c[0]} : Shape{1, 1};
      cmd = plainMd(c2);
      constC_ = s.ins[2].data != nullptr;
      if (beta_ != 1.0f && !constC_) unsupported(s, "beta != 1 with a non-constant C");
    }
    bool post = hasC_ && alpha_ != 1.0f;
    dnnl::post_ops ops;
    if (post) ops.append_binary(algorithm::binary_add, cmd);
    // Plain dst: the residual is a binary-add post-op read where it lies (no copy).
    const int residualPost = post ? 1 : 0;
    auto attr = epilogueAttr(ep, wh, ops, &dst);
    if (alpha_ != 1.0f) attr.set_output_scales(0, {alpha_});
    // Constant B: the primitive picks its weight layout and B is packed into it once (prepare).
    const bool constB = s.ins[1].data != nullptr;
    memory::desc bq = constB ? memory::desc({K, N}, memory::data_type::f32, tag::any) : bmd;
    dnnl::matmul::desc d = hasC_ && !post ? dnnl::matmul::desc(amd, bq, cmd, dst) : dnnl::matmul::desc(amd, bq, dst);
    dnnl::matmul::primitive_desc pd(d, attr, env.engine);
    setPrimitive<decltype(pd), dnnl::matmul>(pd);
    bPlain_ = bmd;
    bPacked_ = pd.weights_desc();
    packB_ = constB && bPacked_ != bmd;
    bind(DNNL_ARG_SRC, amd, Src::In, 0);
    bind(DNNL_ARG_WEIGHTS, bPacked_, packB_ ? Src::Const : Src::In, packB_ ? 0 : 1);
    if (ep.sum) bind(DNNL_ARG_ATTR_MULTIPLE_POST_OP(residualPost) | DNNL_ARG_SRC_1, dst, Src::In, nIn);
    if (hasC_) {
      int arg = post ? (DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1) : DNNL_ARG_BIAS;
      // A constant C is pre-scaled by beta once per node; an activation C is read in place.
      if (constC_ && beta_ != 1.0f) bind(arg, cmd, Src::Const, packB_ ? 1 : 0);
      else bind(arg, cmd, Src::In, 2);
    }
    bind(DNNL_ARG_DST, dst, Src::Out, 0);
  }

  std::shared_ptr<const void> prepare(const OpSpec& s) const override {
    const bool scaleC = hasC_ && constC_ && beta_ != 1.0f;
    if (!packB_ && !scaleC) return nullptr;
    auto c = std::make_shared<ConstBufs>();
    if (packB_) packWeights(bPlain_, bPacked_, s.ins[1].data, c.get());
    if (!scaleC) return c;
    int64_t n = numel(s.ins[2].shape);
    c->bufs.emplace_back(static_cast<size_t>(n) * 4);
    const float* src = static_cast<const float*>(s.ins[2].data);
    float* dst = static_cast<float*>(c->bufs.back().data());
    for (int64_t i = 0; i < n; i++) dst[i] = beta_ * src[i];
    return c;
  }

 private:
  float alpha_ = 1, beta_ = 1;
  bool hasC_ = false, constC_ = false, packB_ = false;
  memory::desc bPlain_, bPacked_;
};

/** Numpy matmul over any rank ≥ 2: batch dims broadcast (oneDNN accepts 1 against N on either side). */
class MatMulKernel : public EpilogueKernel {
 public:
  MatMulKernel(const OpSpec& s, const DnnlEnv& env) : EpilogueKernel(env, "matmul") {
    Shape a = s.ins[0].shape, b = s.ins[1].shape;
    const Shape& y = s.outShapes[0];
    if (a.size() < 2 || b.size() < 2) unsupported(s, "inputs of rank < 2");
    if (y.size() > 12) unsupported(s, "rank > 12");
    while (a.size() < y.size()) a.insert(a.begin(), 1);
    while (b.size() < y.size()) b.insert(b.begin(), 1);
    memory::desc amd = plainMd(a), bmd = plainMd(b), dst = plainMd(y);
    Epilogue ep = epilogueOf(s);
    const bool constB = s.ins[1].data != nullptr;
    dnnl::matmul::desc d(amd, constB ? memory::desc(bmd.dims(), memory::data_type::f32, tag::any) : bmd, dst);
    dnnl::matmul::primitive_desc pd(d, epilogueAttr(ep, s.where(), {}, &dst), env.engine);
    setPrimitive<decltype(pd), dnnl::matmul>(pd);
    bPlain_ = bmd;
    bPacked_ = pd.weights_desc();
    packB_ = constB && bPacked_ != bmd;
    if (ep.sum) bind(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, dst, Src::In, 2);
    bind(DNNL_ARG_SRC, amd, Src::In, 0);
    bind(DNNL_ARG_WEIGHTS, bPacked_, packB_ ? Src::Const : Src::In, packB_ ? 0 : 1);
    bind(DNNL_ARG_DST, dst, Src::Out, 0);
  }

  std::shared_ptr<const void> prepare(const OpSpec& s) const override { return packB_ ? packWeights(bPlain_, bPacked_, s.ins[1].data, nullptr) : nullptr; }

 private:
  bool packB_ = false;
  memory::desc bPlain_, bPacked_;
};

template <typename K>
KernelPtr make(const OpSpec& s, const DnnlEnv& env) {
  requireF32(s);
  try {
    return std::make_shared<K>(s, env);
  } catch (const dnnl::error& e) {
    unsupported(s, std::string("oneDNN cannot build it: ") + e.what());
  }
}

}  // namespace

KernelPtr makeConv(const OpSpec& s, const DnnlEnv& env) { return make<ConvKernel>(s, env); }
KernelPtr makeConvTranspose(const OpSpec& s, const DnnlEnv& env) { return make<DeconvKernel>(s, env); }
KernelPtr makeGemm(const OpSpec& s, const DnnlEnv& env) { return make<GemmKernel>(s, env); }
KernelPtr makeMatMul(const OpSpec& s, const DnnlEnv& env) { return make<MatMulKernel>(s, env); }

}  // namespace ts::cpu
