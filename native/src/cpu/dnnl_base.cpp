#include "dnnl_base.hpp"

#include <cfloat>

namespace ts::cpu {

using dnnl::memory;

memory::dims toDims(const Shape& s) {
  if (s.empty()) return {1};
  return memory::dims(s.begin(), s.end());
}

memory::desc plainMd(const Shape& shape, memory::data_type dt) {
  memory::dims d = toDims(shape);
  memory::dims strides(d.size());
  int64_t st = 1;
  for (size_t i = d.size(); i-- > 0;) {
    strides[i] = st;
    st *= d[i];
  }
  return memory::desc(d, dt, strides);
}

memory::desc layoutMd(const Shape& shape, int layout) {
  using tag = memory::format_tag;
  if (layout == Layout::Plain) return plainMd(shape);
  if (shape.size() != 4) throw Error("layout " + std::to_string(layout) + " of a " + std::to_string(shape.size()) + "-D tensor " + shapeStr(shape) + " (4-D only)");
  tag t = layout == Layout::ChannelsLast ? tag::nhwc : layout == Layout::Blocked8 ? tag::nChw8c : layout == Layout::Blocked16 ? tag::nChw16c : tag::undef;
  if (t == tag::undef) throw Error("unknown layout code " + std::to_string(layout));
  return memory::desc(toDims(shape), memory::data_type::f32, t);
}

int probeConvLayout(const dnnl::engine& eng) {
  using tag = memory::format_tag;
  memory::dims x{1, 64, 28, 28};
  auto conv = [&](const memory::desc& src, const memory::desc& dst) {
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src, memory::desc({64, 64, 3, 3}, memory::data_type::f32, tag::any),
                                      dst, {1, 1}, {1, 1}, {1, 1});
    return dnnl::convolution_forward::primitive_desc(d, eng);
  };
  // First choice: the channel-blocked layout of the CPU's vector width, where a jit kernel takes it
  // (measured over whole networks on an AVX-512 EPYC: nChw16c beat the nhwc oneDNN picks for one
  // convolution by 4–12 %, and it makes Concat a chunk copy).
  for (int l : {Layout::Blocked16, Layout::Blocked8}) {
    try {
      memory::desc md = layoutMd({1, 64, 28, 28}, l);
      std::string impl = conv(md, md).impl_info_str();
      if (impl.find("jit") != std::string::npos && impl.find("ref") == std::string::npos) return l;
    } catch (const dnnl::error&) {
    }
  }
  // Else whatever oneDNN picks for the input of a 3×3 convolution, when it is one of ours.
  try {
    memory::desc src = conv(memory::desc(x, memory::data_type::f32, tag::any), memory::desc(x, memory::data_type::f32, tag::any)).src_desc();
    for (int l : {Layout::ChannelsLast, Layout::Blocked16, Layout::Blocked8})
      if (src == layoutMd({1, 64, 28, 28}, l)) return l;
  } catch (const dnnl::error&) {
  }
  return Layout::Plain;
}

int DnnlKernel::reorderInput(const memory::desc& from, const memory::desc& to, int index) {
  if (from == to) return -1;
  int t = addTemp(to);
  dnnl::reorder::primitive_desc r(env_.engine, from, env_.engine, to, baseAttr());
  setPrimitive<decltype(r), dnnl::reorder>(r);
  bind(DNNL_ARG_FROM, from, Src::In, index);
  bind(DNNL_ARG_TO, to, Src::Temp, t);
  return t;
}

void DnnlKernel::reorderOutput(const memory::desc& from, int temp, const memory::desc& to) {
  if (temp < 0) return;
  dnnl::reorder::primitive_desc r(env_.engine, from, env_.engine, to, baseAttr());
  setPrimitive<decltype(r), dnnl::reorder>(r);
  bind(DNNL_ARG_FROM, from, Src::Temp, temp);
  bind(DNNL_ARG_TO, to, Src::Out, 0);
}

memory::desc stridedMd(const Shape& dims, const Shape& strides) {
  return memory::desc(toDims(dims), memory::data_type::f32, memory::dims(strides.begin(), strides.end()));
}

bool eltwiseFor(const std::string& op, const json& attrs, const std::string& w, dnnl::algorithm& alg, float& alpha, float& beta) {
  using dnnl::algorithm;
  alpha = 0, beta = 0;
  if (op == "Relu") {
    alg = algorithm::eltwise_relu;
  } else if (op == "Clip") {
    alg = algorithm::eltwise_clip;
    alpha = static_cast<float>(attrFloat(attrs, "min", -FLT_MAX, w));
    beta = static_cast<float>(attrFloat(attrs, "max", FLT_MAX, w));
  } else if (op == "Sigmoid") {
    alg = algorithm::eltwise_logistic;
  } else if (op == "Tanh") {
    alg = algorithm::eltwise_tanh;
  } else if (op == "Sqrt") {
    alg = algorithm::eltwise_sqrt;
  } else if (op == "Exp") {
    alg = algorithm::eltwise_exp;
  } else if (op == "Log") {
    alg = algorithm::eltwise_log;
  } else if (op == "Abs") {
    alg = algorithm::eltwise_abs;
  } else if (op == "Neg") {
    alg = algorithm::eltwise_linear, alpha = -1.f;
  } else if (op == "Reciprocal") {
    alg = algorithm::eltwise_pow, alpha = 1.f, beta = -1.f;
  } else if (op == "LeakyRelu") {
    alg = algorithm::eltwise_relu, alpha = static_cast<float>(attrFloat(attrs, "alpha", 0.01, w));
  } else if (op == "HardSwish") {
    alg = algorithm::eltwise_hardswish;
  } else if (op == "Gelu") {
    std::string approx = attrStr(attrs, "approximate", "none", w);
    if (approx == "none") alg = algorithm::eltwise_gelu_erf;
    else if (approx == "tanh") alg = algorithm::eltwise_gelu_tanh;
    else throw Error(w + ": unsupported by the CPU backend: approximate '" + approx + "'");
  } else {
    return false;
  }
  return true;
}

dnnl::primitive_attr epilogueAttr(const Epilogue& e, const std::string& where, dnnl::post_ops ops, const dnnl::memory::desc* residual) {
  if (e.sum && residual) ops.append_binary(dnnl::algorithm::binary_add, *residual);
  else if (e.sum) ops.append_sum(1.f);
  if (!e.act.empty()) {
    dnnl::algorithm alg;
    float alpha, beta;
    if (!eltwiseFor(e.act, e.actAttrs, where, alg, alpha, beta)) throw Error(where + ": fused activation '" + e.act + "' has no oneDNN eltwise");
    ops.append_eltwise(1.f, alg, alpha, beta);
  }
  dnnl::primitive_attr a;
  a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (ops.len() > 0) a.set_post_ops(ops);
  return a;
}

void DnnlKernel::run(const KernelArgs& a) const {
  auto& ctx = static_cast<CpuContext&>(*a.ctx);
  auto& slotPtr = slots_.at(static_cast<size_t>(ctx.slot));
  if (!slotPtr) {
    // First use of this kernel on this stream: one memory object per argument, handles set below.
    auto s = std::make_unique<Slot>();
    for (const Prim& p : prims_) {
      s->mems.emplace_back();
      s->args.emplace_back();
      for (const Bind& b : p.binds) {
        s->mems.back().emplace_back(b.md, env_.engine, static_cast<void*>(DNNL_MEMORY_NONE));
        s->args.back().push_back({b.arg, s->mems.back().back().get()});
      }
    }
    slotPtr = std::move(s);
  }
  Slot& s = *slotPtr;
  // Scratch layout: [largest scratchpad | temp 0 | temp 1 | ...], each 64-byte aligned.
  auto up = [](size_t n) { return (n + 63) / 64 * 64; };
  size_t total = up(scratchBytes_);
  for (size_t t : temps_) total += up(t);
  auto* base = static_cast<uint8_t*>(total ? ctx.scratch(total) : nullptr);
  const auto* consts = static_cast<const ConstBufs*>(a.consts);
  for (size_t k = 0; k < prims_.size(); k++) {
    const Prim& p = prims_[k];
    for (size_t i = 0; i < p.binds.size(); i++) {
      const Bind& b = p.binds[i];
      void* ptr = nullptr;
      switch (b.src) {
        case Src::In:
          ptr = const_cast<void*>(a.in[b.index]);
          break;
        case Src::Out:
          ptr = a.out[b.index];
          break;
        case Src::Const:
          ptr = consts->bufs[static_cast<size_t>(b.index)].data();
          break;
        case Src::Scratch:
          ptr = base;
          break;
        case Src::Temp: {
          size_t off = up(scratchBytes_);
          for (int t = 0; t < b.index; t++) off += up(temps_[static_cast<size_t>(t)]);
          ptr = base + off;
          break;
        }
      }
      dnnl_memory_set_data_handle_v2(s.args[k][i].memory, ptr, nullptr);
    }
    dnnl_status_t st = dnnl_primitive_execute(p.prim.get(), ctx.stream.get(), static_cast<int>(s.args[k].size()), s.args[k].data());
    if (st != dnnl_success) throw Error(name_ + ": oneDNN execute failed with status " + std::to_string(static_cast<int>(st)));
  }
}

}  // namespace ts::cpu
