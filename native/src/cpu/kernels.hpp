// Kernel factories of the CPU backend. dnnl_*.cpp wrap oneDNN primitives; own_*.cpp are plain C++
// loops for ops oneDNN does not cover with ONNX semantics (or where a loop is simply enough).
#pragma once

#include <memory>

#include "dnnl_base.hpp"

namespace ts::cpu {

using KernelPtr = std::shared_ptr<Kernel>;

// dnnl_linear.cpp
KernelPtr makeConv(const OpSpec& s, const DnnlEnv& env);
KernelPtr makeConvTranspose(const OpSpec& s, const DnnlEnv& env);
KernelPtr makeGemm(const OpSpec& s, const DnnlEnv& env);
KernelPtr makeMatMul(const OpSpec& s, const DnnlEnv& env);

// dnnl_misc.cpp
KernelPtr makeEltwise(const OpSpec& s, const DnnlEnv& env);
/** Whether oneDNN's binary expresses the op's broadcast (not a src0 broadcast of Sub/Div). */
bool dnnlBinaryFits(const OpSpec& s);
/** Returns null when oneDNN's binary cannot express the broadcast (see dnnlBinaryFits). */
KernelPtr makeDnnlBinary(const OpSpec& s, const DnnlEnv& env);
/** Returns null when the ONNX window rule differs from oneDNN's (avg pool, ceil_mode, pads counted). */
KernelPtr makeDnnlPool(const OpSpec& s, const DnnlEnv& env);
/** Whether makeDnnlPool takes the op (throws the same errors for a window it cannot take at all). */
bool dnnlPoolFits(const OpSpec& s);
/** oneDNN's description of a MaxPool / AveragePool window (dilations as d − 1). */
struct PoolWindow {
  dnnl::algorithm alg;
  dnnl::memory::dims kernel, strides, dil, padL, padR;
};
/** The window of a 2-D MaxPool / AveragePool; false where ONNX's rule differs from oneDNN's;
 *  throws the "unsupported" error for a window neither takes (auto_pad, storage_order 1, not 2-D). */
bool poolWindow(const OpSpec& s, PoolWindow& win);
/** Concat / Split along channels where a tensor is not plain (layout.hpp). */
KernelPtr makeLayoutConcat(const OpSpec& s, const DnnlEnv& env);
KernelPtr makeLayoutSplit(const OpSpec& s, const DnnlEnv& env);
KernelPtr makeSoftmax(const OpSpec& s, const DnnlEnv& env);
KernelPtr makeLayerNorm(const OpSpec& s, const DnnlEnv& env);
KernelPtr makeReduce(const OpSpec& s, const DnnlEnv& env);
KernelPtr makeDnnlTranspose(const OpSpec& s, const DnnlEnv& env);

// own_basic.cpp
KernelPtr makeCopy(const OpSpec& s);
KernelPtr makeConcat(const OpSpec& s);
KernelPtr makeSplit(const OpSpec& s);
KernelPtr makeBatchNorm(const OpSpec& s);
/** HardSigmoid and Erf. */
KernelPtr makeOwnUnary(const OpSpec& s);
KernelPtr makeInstanceNorm(const OpSpec& s);
KernelPtr makeSlice(const OpSpec& s);

// own_rnn.cpp
KernelPtr makeRnn(const OpSpec& s);
KernelPtr makeBroadcastBinary(const OpSpec& s);
KernelPtr makeExpand(const OpSpec& s);
KernelPtr makeTranspose(const OpSpec& s);

// own_spatial.cpp
KernelPtr makePad(const OpSpec& s);
KernelPtr makeGather(const OpSpec& s);
KernelPtr makeResize(const OpSpec& s);
KernelPtr makeRefPool(const OpSpec& s);
/** MaxPool between tensors in one channel-blocked layout; null for anything else. */
KernelPtr makeBlockedMaxPool(const OpSpec& s);
/** GlobalAveragePool from and to plain tensors; null for anything else. */
KernelPtr makePlainGlobalAvgPool(const OpSpec& s);

/** Throws the standard "unsupported" error naming the node. */
[[noreturn]] void unsupported(const OpSpec& s, const std::string& why);
void requireF32(const OpSpec& s);

}  // namespace ts::cpu
