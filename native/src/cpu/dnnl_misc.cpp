// Elementwise, binary, pooling, softmax, layer norm, reductions and transposes on oneDNN.
#include <cfloat>

#include "kernels.hpp"

namespace ts::cpu {

using dnnl::algorithm;
using dnnl::memory;
using dnnl::prop_kind;

namespace {

template <typename K, typename... A>
KernelPtr make(const OpSpec& s, A&&... args) {
  try {
    return std::make_shared<K>(s, std::forward<A>(args)...);
  } catch (const dnnl::error& e) {
    unsupported(s, std::string("oneDNN cannot build it: ") + e.what());
  }
}

/** Unary ops over the flattened tensor (layout does not matter elementwise). */
class EltwiseKernel : public DnnlKernel {
 public:
  EltwiseKernel(const OpSpec& s, const DnnlEnv& env) : DnnlKernel(env, "eltwise") {
    algorithm alg;
    float alpha = 0, beta = 0;
    if (!eltwiseFor(s.op, s.attrs, s.where(), alg, alpha, beta)) unsupported(s, "not an eltwise op");
    memory::desc md = plainMd({numel(s.ins[0].shape)});
    dnnl::eltwise_forward::desc d(prop_kind::forward_inference, alg, md, alpha, beta);
    dnnl::eltwise_forward::primitive_desc pd(d, baseAttr(), env.engine);
    setPrimitive<decltype(pd), dnnl::eltwise_forward>(pd);
    bind(DNNL_ARG_SRC, md, Src::In, 0);
    bind(DNNL_ARG_DST, md, Src::Out, 0);
  }
};

Shape padRank(Shape s, size_t rank) {
  while (s.size() < rank) s.insert(s.begin(), 1);
  return s;
}

/** oneDNN binary: src0 has the output's shape, src1 broadcasts (dims 1 or equal). */
class BinaryKernel : public DnnlKernel {
 public:
  BinaryKernel(const OpSpec& s, const DnnlEnv& env, bool swap) : DnnlKernel(env, "binary") {
    algorithm alg = s.op == "Add"   ? algorithm::binary_add
                    : s.op == "Mul" ? algorithm::binary_mul
                    : s.op == "Sub" ? algorithm::binary_sub
                    : s.op == "Max" ? algorithm::binary_max
                    : s.op == "Min" ? algorithm::binary_min
                                    : algorithm::binary_div;
    const Shape& y = s.outShapes[0];
    int i0 = swap ? 1 : 0, i1 = swap ? 0 : 1;
    memory::desc a = plainMd(padRank(s.ins[static_cast<size_t>(i0)].shape, y.size()));
    memory::desc b = plainMd(padRank(s.ins[static_cast<size_t>(i1)].shape, y.size()));
    memory::desc dst = plainMd(y);
    dnnl::binary::desc d(alg, a, b, dst);
    dnnl::binary::primitive_desc pd(d, epilogueAttr(epilogueOf(s), s.where()), env.engine);
    setPrimitive<decltype(pd), dnnl::binary>(pd);
    bind(DNNL_ARG_SRC_0, a, Src::In, i0);
    bind(DNNL_ARG_SRC_1, b, Src::In, i1);
    bind(DNNL_ARG_DST, dst, Src::Out, 0);
  }
};

/**
 * Pooling. oneDNN only has a reference loop for plain NCHW; its jit kernels want channel-blocked
 * input, so a plain input is reordered into stream scratch (nChw8c), pooled blocked, and the result
 * reordered back — ~50× faster than the plain path on Inception's pools. A tensor kept in the
 * device's layout between ops (layout.hpp) is read and written in place.
 */
class PoolKernel : public DnnlKernel {
 public:
  PoolKernel(const OpSpec& s, const DnnlEnv& env, algorithm alg, memory::dims kernel, memory::dims strides, memory::dims dil, memory::dims padL,
             memory::dims padR)
      : DnnlKernel(env, "pool") {
    const int li = s.inLayoutOf(0), lo = s.outLayoutOf(0);
    memory::desc src = layoutMd(s.ins[0].shape, li), dst = layoutMd(s.outShapes[0], lo);
    // Pool in the input's layout, else the output's, else nChw8c: oneDNN's jit pooling needs the
    // same layout on both sides (nChw8c in, nhwc out falls back to its reference loop, ~100× slower).
    const int work = li != Layout::Plain ? li : lo != Layout::Plain ? lo : Layout::Blocked8;
    memory::desc bsrc = li != Layout::Plain ? src : work == Layout::Blocked8 ? memory::desc(src.dims(), memory::data_type::f32, memory::format_tag::nChw8c) : layoutMd(s.ins[0].shape, work);
    memory::desc bdst(dst.dims(), memory::data_type::f32, memory::format_tag::any);
    dnnl::pooling_v2_forward::desc d(prop_kind::forward_inference, alg, bsrc, bdst, strides, kernel, dil, padL, padR);
    dnnl::pooling_v2_forward::primitive_desc pd(d, baseAttr(), env.engine);
    memory::desc cdst = pd.dst_desc();
    const int tSrc = reorderInput(src, bsrc, 0);
    const int tDst = cdst != dst ? addTemp(cdst) : -1;
    setPrimitive<decltype(pd), dnnl::pooling_v2_forward>(pd);
    bindOrTemp(DNNL_ARG_SRC, bsrc, tSrc, Src::In, 0);
    bindOrTemp(DNNL_ARG_DST, cdst, tDst, Src::Out, 0);
    reorderOutput(cdst, tDst, dst);
  }
};

/** Concat along channels in any layout (channels-last interleaves the inputs, so it is no chunk copy). */
class ConcatKernel : public DnnlKernel {
 public:
  ConcatKernel(const OpSpec& s, const DnnlEnv& env) : DnnlKernel(env, "concat") {
    int64_t axis = attrInt(s.attrs, "axis", 0, s.where());
    if (axis < 0) axis += static_cast<int64_t>(s.outShapes[0].size());
    std::vector<memory::desc> srcs;
    for (size_t i = 0; i < s.ins.size(); i++) srcs.push_back(layoutMd(s.ins[i].shape, s.inLayoutOf(i)));
    memory::desc dst = layoutMd(s.outShapes[0], s.outLayoutOf(0));
    dnnl::concat::primitive_desc pd(dst, static_cast<int>(axis), srcs, env.engine, baseAttr());
    setPrimitive<decltype(pd), dnnl::concat>(pd);
    for (size_t i = 0; i < srcs.size(); i++) bind(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), srcs[i], Src::In, static_cast<int>(i));
    bind(DNNL_ARG_DST, dst, Src::Out, 0);
  }
};

/** Split along channels in or between layouts (a merge stage's fused output into convolutions'
 *  outputs kept in the device's layout): one reorder per output from its slice of the input. */
class LayoutSplitKernel : public DnnlKernel {
 public:
  LayoutSplitKernel(const OpSpec& s, const DnnlEnv& env) : DnnlKernel(env, "split") {
    const Shape& x = s.ins[0].shape;
    int64_t axis = attrInt(s.attrs, "axis", 0, s.where());
    if (axis < 0) axis += static_cast<int64_t>(x.size());
    if (x.size() != 4 || axis != 1) unsupported(s, "a split between layouts only along channels of a 4-D tensor");
    memory::desc src = layoutMd(x, s.inLayoutOf(0));
    int64_t off = 0;
    for (size_t i = 0; i < s.outShapes.size(); i++) {
      const Shape& y = s.outShapes[i];
      memory::desc part = src.submemory_desc(toDims(y), {0, off, 0, 0});
      memory::desc dst = layoutMd(y, s.outLayoutOf(i));
      dnnl::reorder::primitive_desc r(env.engine, part, env.engine, dst, baseAttr());
      setPrimitive<decltype(r), dnnl::reorder>(r);
      bind(DNNL_ARG_FROM, part, Src::In, 0);
      bind(DNNL_ARG_TO, dst, Src::Out, static_cast<int>(i));
      off += y[1];
    }
  }
};

class SoftmaxKernel : public DnnlKernel {
 public:
  SoftmaxKernel(const OpSpec& s, const DnnlEnv& env) : DnnlKernel(env, "softmax") {
    const Shape& x = s.ins[0].shape;
    int64_t axis = attrInt(s.attrs, "axis", -1, s.where());
    if (axis < 0) axis += static_cast<int64_t>(x.size());
    if (axis < 0 || axis >= static_cast<int64_t>(x.size())) unsupported(s, "axis out of range");
    memory::desc md = plainMd(x);
    dnnl::softmax_forward::desc d(prop_kind::forward_inference, md, static_cast<int>(axis));
    dnnl::softmax_forward::primitive_desc pd(d, baseAttr(), env.engine);
    setPrimitive<decltype(pd), dnnl::softmax_forward>(pd);
    bind(DNNL_ARG_SRC, md, Src::In, 0);
    bind(DNNL_ARG_DST, md, Src::Out, 0);
  }
};

/** ONNX LayerNormalization normalises over dims [axis, rank): a 2-D [outer, inner] view for oneDNN. */
class LayerNormKernel : public DnnlKernel {
 public:
  LayerNormKernel(const OpSpec& s, const DnnlEnv& env) : DnnlKernel(env, "lnorm") {
    const Shape& x = s.ins[0].shape;
    const std::string w = s.where();
    int64_t axis = attrInt(s.attrs, "axis", -1, w);
    if (axis < 0) axis += static_cast<int64_t>(x.size());
    if (axis < 0 || axis >= static_cast<int64_t>(x.size())) unsupported(s, "axis out of range");
    float eps = static_cast<float>(attrFloat(s.attrs, "epsilon", 1e-5, w));
    int64_t inner = numel(Shape(x.begin() + axis, x.end())), outer = numel(x) / inner;
    if (s.outShapes.size() > 1) unsupported(s, "Mean / InvStdDev outputs");
    memory::desc md = plainMd({outer, inner});
    bool bias = s.ins.size() > 2;
    auto flags = dnnl::normalization_flags::use_scale;
    if (bias) flags |= dnnl::normalization_flags::use_shift;
    dnnl::layer_normalization_forward::desc d(prop_kind::forward_inference, md, eps, flags);
    dnnl::layer_normalization_forward::primitive_desc pd(d, baseAttr(), env.engine);
    setPrimitive<decltype(pd), dnnl::layer_normalization_forward>(pd);
    bind(DNNL_ARG_SRC, md, Src::In, 0);
    bind(DNNL_ARG_SCALE, plainMd({inner}), Src::In, 1);
    if (bias) bind(DNNL_ARG_SHIFT, plainMd({inner}), Src::In, 2);
    bind(DNNL_ARG_DST, md, Src::Out, 0);
  }
};

class ReduceKernel : public DnnlKernel {
 public:
  ReduceKernel(const OpSpec& s, const DnnlEnv& env) : DnnlKernel(env, "reduce") {
    const Shape& x = s.ins[0].shape;
    const std::string w = s.where();
    auto axes = attrInts(s.attrs, "axes", {}, w);
    if (axes.empty()) {
      // ONNX: no axes reduces everything unless noop_with_empty_axes.
      if (attrInt(s.attrs, "noop_with_empty_axes", 0, w)) unsupported(s, "noop_with_empty_axes");
      for (size_t i = 0; i < x.size(); i++) axes.push_back(static_cast<int64_t>(i));
    }
    Shape y = x;
    for (int64_t a : axes) {
      if (a < 0) a += static_cast<int64_t>(x.size());
      if (a < 0 || a >= static_cast<int64_t>(x.size())) unsupported(s, "axis out of range");
      y[static_cast<size_t>(a)] = 1;
    }
    memory::desc src = plainMd(x), dst = plainMd(y);
    algorithm alg = s.op == "ReduceSum" ? algorithm::reduction_sum : s.op == "ReduceMax" ? algorithm::reduction_max : algorithm::reduction_mean;
    dnnl::reduction::desc d(alg, src, dst, 0.f, 0.f);
    dnnl::reduction::primitive_desc pd(d, baseAttr(), env.engine);
    setPrimitive<decltype(pd), dnnl::reduction>(pd);
    bind(DNNL_ARG_SRC, src, Src::In, 0);
    bind(DNNL_ARG_DST, dst, Src::Out, 0);
  }
};

/** A transpose is a reorder from a strided view (output dims, input strides permuted) to plain. */
class TransposeKernel : public DnnlKernel {
 public:
  TransposeKernel(const OpSpec& s, const DnnlEnv& env) : DnnlKernel(env, "transpose") {
    const Shape& x = s.ins[0].shape;
    size_t r = x.size();
    Shape perm(r);
    auto p = attrInts(s.attrs, "perm", {}, s.where());
    for (size_t i = 0; i < r; i++) perm[i] = p.empty() ? static_cast<int64_t>(r - 1 - i) : p[i];
    Shape inStride(r);
    int64_t st = 1;
    for (size_t i = r; i-- > 0;) inStride[i] = st, st *= x[i];
    Shape dims(r), strides(r);
    for (size_t i = 0; i < r; i++) dims[i] = x[static_cast<size_t>(perm[i])], strides[i] = inStride[static_cast<size_t>(perm[i])];
    memory::desc src = stridedMd(dims, strides), dst = plainMd(dims);
    dnnl::reorder::primitive_desc pd(env.engine, src, env.engine, dst, baseAttr());
    setPrimitive<decltype(pd), dnnl::reorder>(pd);
    bind(DNNL_ARG_FROM, src, Src::In, 0);
    bind(DNNL_ARG_TO, dst, Src::Out, 0);
  }
};

bool sameShape(const Shape& a, const Shape& b) { return a == b; }

/** 0: src0 has the output's shape; 1: src1 has it and the op commutes; -1: oneDNN's binary cannot. */
int binarySide(const OpSpec& s) {
  const Shape& y = s.outShapes[0];
  if (y.size() > 12 || numel(y) == 0 || s.ins.size() != 2) return -1;
  if (sameShape(padRank(s.ins[0].shape, y.size()), y)) return 0;
  bool commutes = s.op == "Add" || s.op == "Mul" || s.op == "Max" || s.op == "Min";
  if (commutes && sameShape(padRank(s.ins[1].shape, y.size()), y)) return 1;
  return -1;
}

}  // namespace

KernelPtr makeEltwise(const OpSpec& s, const DnnlEnv& env) {
  requireF32(s);
  return make<EltwiseKernel>(s, env);
}

bool dnnlBinaryFits(const OpSpec& s) { return binarySide(s) >= 0; }

KernelPtr makeDnnlBinary(const OpSpec& s, const DnnlEnv& env) {
  requireF32(s);
  int side = binarySide(s);
  if (side < 0) return nullptr;
  return make<BinaryKernel>(s, env, side == 1);
}

bool poolWindow(const OpSpec& s, PoolWindow& win) {
  const std::string w = s.where();
  const Shape& x = s.ins[0].shape;
  const Shape& y = s.outShapes[0];
  if (x.size() != 4) unsupported(s, "only 2-D pooling (NCHW)");
  std::string autoPad = attrStr(s.attrs, "auto_pad", "NOTSET", w);
  if (autoPad != "NOTSET") unsupported(s, "auto_pad '" + autoPad + "' (give explicit pads)");
  auto k = attrInts(s.attrs, "kernel_shape", {}, w);
  auto st = attrInts(s.attrs, "strides", {1, 1}, w);
  auto dl = attrInts(s.attrs, "dilations", {1, 1}, w);
  auto pd = attrInts(s.attrs, "pads", {0, 0, 0, 0}, w);
  if (k.size() != 2 || st.size() != 2 || dl.size() != 2 || pd.size() != 4) unsupported(s, "only 2-D windows");
  if (attrInt(s.attrs, "storage_order", 0, w) != 0) unsupported(s, "storage_order 1");
  bool isMax = s.op == "MaxPool";
  bool countPad = !isMax && attrInt(s.attrs, "count_include_pad", 0, w) != 0;
  memory::dims padR(2);
  bool extra = false;
  for (int i = 0; i < 2; i++) {
    // The end padding oneDNN needs to produce the ONNX output size; ceil_mode may need more than
    // the declared pad (windows that start inside the input but run past its end).
    int64_t need = (y[2 + i] - 1) * st[i] + (k[i] - 1) * dl[i] + 1 - x[2 + i] - pd[i];
    padR[i] = std::max(need, pd[2 + i]);
    extra = extra || need > pd[2 + i];
  }
  // ONNX (and ORT) clip those extra windows at input + declared pads before dividing; oneDNN would
  // count the extra padding, so that case goes to the reference kernel.
  if (countPad && extra) return false;
  win = {isMax ? algorithm::pooling_max : countPad ? algorithm::pooling_avg_include_padding : algorithm::pooling_avg_exclude_padding,
         {k[0], k[1]},
         {st[0], st[1]},
         {dl[0] - 1, dl[1] - 1},
         {pd[0], pd[1]},
         padR};
  return true;
}

bool dnnlPoolFits(const OpSpec& s) {
  PoolWindow win;
  return s.op == "GlobalAveragePool" || poolWindow(s, win);
}

KernelPtr makeDnnlPool(const OpSpec& s, const DnnlEnv& env) {
  requireF32(s);
  const Shape& x = s.ins[0].shape;
  if (s.op == "GlobalAveragePool") {
    if (x.size() != 4) unsupported(s, "only 2-D pooling (NCHW)");
    return make<PoolKernel>(s, env, algorithm::pooling_avg_exclude_padding, memory::dims{x[2], x[3]}, memory::dims{1, 1}, memory::dims{0, 0}, memory::dims{0, 0},
                            memory::dims{0, 0});
  }
  PoolWindow win;
  if (!poolWindow(s, win)) return nullptr;
  return make<PoolKernel>(s, env, win.alg, win.kernel, win.strides, win.dil, win.padL, win.padR);
}

KernelPtr makeLayoutConcat(const OpSpec& s, const DnnlEnv& env) {
  requireF32(s);
  return make<ConcatKernel>(s, env);
}

KernelPtr makeLayoutSplit(const OpSpec& s, const DnnlEnv& env) {
  requireF32(s);
  return make<LayoutSplitKernel>(s, env);
}

KernelPtr makeSoftmax(const OpSpec& s, const DnnlEnv& env) {
  requireF32(s);
  return make<SoftmaxKernel>(s, env);
}

KernelPtr makeLayerNorm(const OpSpec& s, const DnnlEnv& env) {
  requireF32(s);
  return make<LayerNormKernel>(s, env);
}

KernelPtr makeReduce(const OpSpec& s, const DnnlEnv& env) {
  requireF32(s);
  // Over axes of size 1 every reduction is the identity; oneDNN refuses a reduction that reduces nothing.
  if (numel(s.ins[0].shape) == numel(s.outShapes[0])) return makeCopy(s);
  return make<ReduceKernel>(s, env);
}

KernelPtr makeDnnlTranspose(const OpSpec& s, const DnnlEnv& env) {
  if (s.ins[0].dtype != DType::F32 || s.ins[0].shape.size() > 6 || s.ins[0].shape.empty()) return nullptr;
  return make<TransposeKernel>(s, env);
}

}  // namespace ts::cpu
