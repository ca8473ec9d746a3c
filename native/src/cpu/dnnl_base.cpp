#include "dnnl_base.hpp"

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

memory::desc stridedMd(const Shape& dims, const Shape& strides) {
  return memory::desc(toDims(dims), memory::data_type::f32, memory::dims(strides.begin(), strides.end()));
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
