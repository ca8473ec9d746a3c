// cuDNN and cuBLAS kernels. Each factory returns null when its library is absent or the case is not
// one the library computes with the CPU backend's (ONNX) semantics — asymmetric conv pads, pooling
// windows cuDNN sizes differently, dims past int32 — and the own kernel takes over. FP32 math is
// kept exact-ish: cuDNN convolutions run with CUDNN_FMA_MATH (no TF32 tensor cores) and cuBLAS in
// its default math mode, so results match the CPU backend to float rounding.
#include <algorithm>
#include <climits>

#include "cuda_kernels.hpp"

namespace ts::cuda {

namespace {

bool fitsInt(std::initializer_list<int64_t> v) {
  for (int64_t x : v)
    if (x < 0 || x > INT_MAX) return false;
  return true;
}

int i32(int64_t v) { return static_cast<int>(v); }

/** cuDNN descriptors of one kernel, destroyed with it. */
struct Descs {
  explicit Descs(Libs& l) : libs(l), api(*l.cudnn()) {}
  ~Descs() {
    for (void* d : tensors) api.DestroyTensorDescriptor(d);
    if (filter) api.DestroyFilterDescriptor(filter);
    if (conv) api.DestroyConvolutionDescriptor(conv);
    if (pool) api.DestroyPoolingDescriptor(pool);
    if (act) api.DestroyActivationDescriptor(act);
  }
  Descs(const Descs&) = delete;
  Descs& operator=(const Descs&) = delete;
  void* tensor(int64_t n, int64_t c, int64_t h, int64_t w) {
    void* d = nullptr;
    checkCudnn(libs, api.CreateTensorDescriptor(&d), "cudnnCreateTensorDescriptor");
    tensors.push_back(d);
    checkCudnn(libs, api.SetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, i32(n), i32(c), i32(h), i32(w)), "cudnnSetTensor4dDescriptor");
    return d;
  }
  Libs& libs;
  const CudnnApi& api;
  std::vector<void*> tensors;
  void* filter = nullptr;
  void* conv = nullptr;
  void* pool = nullptr;
  void* act = nullptr;
};

class CudnnKernel : public CudaKernel {
 public:
  CudnnKernel(const char* name, Libs& libs) : CudaKernel(name), d_(libs) {}

 protected:
  cudnnHandle_t handle(const KernelArgs& a) const {
    void* h = ctx(a).cudnn();
    if (!h) throw Error("cuDNN handle unavailable");
    return h;
  }
  void ok(cudnnStatus_t st, const char* what) const { checkCudnn(d_.libs, st, what); }
  Descs d_;
  void* x_ = nullptr;
  void* y_ = nullptr;
};

class CudnnConv : public CudnnKernel {
 public:
  CudnnConv(const OpSpec& s, Libs& libs, const Window2d& w, int64_t groups) : CudnnKernel("cudnn:conv", libs) {
    const Shape& x = s.ins[0].shape;
    const Shape& wt = s.ins[1].shape;
    const Shape& y = s.outShapes[0];
    const CudnnApi& api = d_.api;
    x_ = d_.tensor(x[0], x[1], x[2], x[3]);
    y_ = d_.tensor(y[0], y[1], y[2], y[3]);
    ok(api.CreateFilterDescriptor(&d_.filter), "cudnnCreateFilterDescriptor");
    ok(api.SetFilter4dDescriptor(d_.filter, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, i32(wt[0]), i32(wt[1]), i32(wt[2]), i32(wt[3])), "cudnnSetFilter4dDescriptor");
    ok(api.CreateConvolutionDescriptor(&d_.conv), "cudnnCreateConvolutionDescriptor");
    ok(api.SetConvolution2dDescriptor(d_.conv, i32(w.pt), i32(w.pl), i32(w.sh), i32(w.sw), i32(w.dh), i32(w.dw), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
       "cudnnSetConvolution2dDescriptor");
    ok(api.SetConvolutionGroupCount(d_.conv, i32(groups)), "cudnnSetConvolutionGroupCount");
    ok(api.SetConvolutionMathType(d_.conv, CUDNN_FMA_MATH), "cudnnSetConvolutionMathType");
    int n = 0, c = 0, h = 0, ww = 0;
    ok(api.GetConvolution2dForwardOutputDim(d_.conv, x_, d_.filter, &n, &c, &h, &ww), "cudnnGetConvolution2dForwardOutputDim");
    if (n != y[0] || c != y[1] || h != y[2] || ww != y[3]) throw Error("cuDNN output size differs");
    CudnnFwdPerf perf[8] = {};
    int got = 0;
    ok(api.GetConvolutionForwardAlgorithm_v7(libs.queryHandle(), x_, d_.filter, d_.conv, y_, 8, &got, perf), "cudnnGetConvolutionForwardAlgorithm_v7");
    bool found = false;
    // Prefer algorithms reported for FMA math (no TF32), then any the FMA descriptor accepts
    // (the workspace query fails for one it cannot run).
    std::stable_sort(perf, perf + got, [](const CudnnFwdPerf& a, const CudnnFwdPerf& b) { return (a.mathType == CUDNN_FMA_MATH) > (b.mathType == CUDNN_FMA_MATH); });
    for (int i = 0; i < got && !found; i++) {
      if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
      size_t ws = 0;
      if (api.GetConvolutionForwardWorkspaceSize(libs.queryHandle(), x_, d_.filter, d_.conv, y_, perf[i].algo, &ws) != CUDNN_STATUS_SUCCESS) continue;
      if (ws > (size_t{1} << 30)) continue;  // a workspace over 1 GiB per stream is not worth it
      algo_ = perf[i].algo, ws_ = ws, found = true;
    }
    if (!found) throw Error("no cuDNN algorithm");
    if (s.ins.size() > 2) bias_ = d_.tensor(1, wt[0], 1, 1);
  }
  void run(const KernelArgs& a) const override {
    const float one = 1.f, zero = 0.f;
    cudnnHandle_t h = handle(a);
    void* ws = ws_ ? a.ctx->scratch(ws_) : nullptr;
    ok(d_.api.ConvolutionForward(h, &one, x_, a.in[0], d_.filter, a.in[1], d_.conv, algo_, ws, ws_, &zero, y_, a.out[0]), "cudnnConvolutionForward");
    if (bias_) ok(d_.api.AddTensor(h, &one, bias_, a.in[2], &one, y_, a.out[0]), "cudnnAddTensor");
    done(a);
  }

 private:
  int algo_ = 0;
  size_t ws_ = 0;
  void* bias_ = nullptr;
};

class CudnnPool : public CudnnKernel {
 public:
  CudnnPool(const OpSpec& s, Libs& libs, const Window2d& w, int mode) : CudnnKernel("cudnn:pool", libs) {
    const Shape& x = s.ins[0].shape;
    const Shape& y = s.outShapes[0];
    x_ = d_.tensor(x[0], x[1], x[2], x[3]);
    y_ = d_.tensor(y[0], y[1], y[2], y[3]);
    ok(d_.api.CreatePoolingDescriptor(&d_.pool), "cudnnCreatePoolingDescriptor");
    ok(d_.api.SetPooling2dDescriptor(d_.pool, mode, CUDNN_PROPAGATE_NAN, i32(w.kh), i32(w.kw), i32(w.pt), i32(w.pl), i32(w.sh), i32(w.sw)), "cudnnSetPooling2dDescriptor");
  }
  void run(const KernelArgs& a) const override {
    const float one = 1.f, zero = 0.f;
    ok(d_.api.PoolingForward(handle(a), d_.pool, &one, x_, a.in[0], &zero, y_, a.out[0]), "cudnnPoolingForward");
    done(a);
  }
};

/** Softmax over the middle dim of [outer, D, inner, 1] (CHANNEL mode), or an activation over [1,1,1,n]. */
class CudnnPointwise : public CudnnKernel {
 public:
  CudnnPointwise(Libs& libs, int64_t outer, int64_t d, int64_t inner) : CudnnKernel("cudnn:softmax", libs), softmax_(true) {
    x_ = d_.tensor(outer, d, inner, 1);
  }
  CudnnPointwise(Libs& libs, int64_t n, int mode, double coef) : CudnnKernel("cudnn:activation", libs), softmax_(false) {
    x_ = d_.tensor(1, 1, 1, n);
    ok(d_.api.CreateActivationDescriptor(&d_.act), "cudnnCreateActivationDescriptor");
    ok(d_.api.SetActivationDescriptor(d_.act, mode, CUDNN_PROPAGATE_NAN, coef), "cudnnSetActivationDescriptor");
  }
  void run(const KernelArgs& a) const override {
    const float one = 1.f, zero = 0.f;
    if (softmax_) ok(d_.api.SoftmaxForward(handle(a), CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_CHANNEL, &one, x_, a.in[0], &zero, x_, a.out[0]), "cudnnSoftmaxForward");
    else ok(d_.api.ActivationForward(handle(a), d_.act, &one, x_, a.in[0], &zero, x_, a.out[0]), "cudnnActivationForward");
    done(a);
  }

 private:
  bool softmax_;
};

class CudnnBatchNorm : public CudnnKernel {
 public:
  CudnnBatchNorm(Libs& libs, int64_t n, int64_t c, int64_t hw, double eps) : CudnnKernel("cudnn:batchnorm", libs), eps_(eps) {
    x_ = d_.tensor(n, c, hw, 1);
    bn_ = d_.tensor(1, c, 1, 1);
  }
  void run(const KernelArgs& a) const override {
    const float one = 1.f, zero = 0.f;
    ok(d_.api.BatchNormalizationForwardInference(handle(a), CUDNN_BATCHNORM_SPATIAL, &one, &zero, x_, a.in[0], x_, a.out[0], bn_, a.in[1], a.in[2], a.in[3], a.in[4], eps_),
       "cudnnBatchNormalizationForwardInference");
    done(a);
  }

 private:
  void* bn_ = nullptr;
  double eps_;
};

/**
 * Row-major GEMM on column-major cuBLAS: Y (M×N, row-major) is Yᵀ (N×M, column-major) = B'ᵀ·A'ᵀ.
 * A C addend is first broadcast into Y (launchStridedCopy), then accumulated with beta = 1.
 */
class CublasGemm : public CudaKernel {
 public:
  CublasGemm(const char* name, Libs& libs) : CudaKernel(name), api_(*libs.cublas()) {}
  int opA = CUBLAS_OP_N, opB = CUBLAS_OP_N, lda = 0, ldb = 0;
  int64_t M = 0, N = 0, K = 0, batch = 1, strideA = 0, strideB = 0;
  float alpha = 1.f, beta = 1.f;
  int cIn = -1;
  bool constC = false;
  Strided cView;
  std::shared_ptr<const void> prepare(const OpSpec& s) const override {
    if (!constC || beta == 1.f) return nullptr;
    int64_t n = numel(s.ins[static_cast<size_t>(cIn)].shape);
    std::vector<float> c(static_cast<size_t>(n));
    const auto* src = static_cast<const float*>(s.ins[static_cast<size_t>(cIn)].data);
    for (int64_t i = 0; i < n; i++) c[static_cast<size_t>(i)] = beta * src[i];
    return upload(c.data(), c.size() * 4);
  }
  void run(const KernelArgs& a) const override {
    auto h = ctx(a).cublas();
    if (!h) throw Error("cuBLAS handle unavailable");
    float b = 0.f;
    if (cIn >= 0) {
      const void* c = a.consts ? static_cast<const DeviceBuffer*>(a.consts)->data() : a.in[cIn];
      launchStridedCopy(c, a.out[0], cView, 4, ctx(a).stream);
      b = 1.f;
    }
    const auto* A = static_cast<const float*>(a.in[0]);
    const auto* B = static_cast<const float*>(a.in[1]);
    auto* Y = static_cast<float*>(a.out[0]);
    if (batch == 1) {
      checkCublas(api_.Sgemm(h, opB, opA, i32(N), i32(M), i32(K), &alpha, B, ldb, A, lda, &b, Y, i32(N)), "cublasSgemm");
    } else {
      checkCublas(api_.SgemmStridedBatched(h, opB, opA, i32(N), i32(M), i32(K), &alpha, B, ldb, strideB, A, lda, strideA, &b, Y, i32(N), M * N, i32(batch)),
                  "cublasSgemmStridedBatched");
    }
    done(a);
  }

 private:
  const CublasApi& api_;
};

template <typename K, typename... A>
KernelPtr tryMake(A&&... args) {
  try {
    return std::make_shared<K>(std::forward<A>(args)...);
  } catch (const Error&) {
    // The library refused this configuration (status or size mismatch): the own kernel runs it.
    return nullptr;
  }
}

}  // namespace

KernelPtr makeCudnnConv(const OpSpec& s, Libs& libs) {
  if (!libs.cudnn()) return nullptr;
  const Shape& x = s.ins[0].shape;
  const Shape& wt = s.ins[1].shape;
  const Shape& y = s.outShapes[0];
  if (x.size() != 4 || wt.size() != 4 || s.ins[0].dtype != DType::F32) return nullptr;
  Window2d w = convWindow(s, wt[2], wt[3]);
  if (w.pt != w.pb || w.pl != w.pr) return nullptr;  // cuDNN pads symmetrically
  if (!fitsInt({x[0], x[1], x[2], x[3], wt[0], wt[1], wt[2], wt[3], y[2], y[3], numel(x), numel(y)})) return nullptr;
  return tryMake<CudnnConv>(s, libs, w, attrInt(s.attrs, "group", 1, s.where()));
}

KernelPtr makeCudnnPool(const OpSpec& s, Libs& libs) {
  if (!libs.cudnn() || s.op == "GlobalAveragePool") return nullptr;
  const Shape& x = s.ins[0].shape;
  const Shape& y = s.outShapes[0];
  if (x.size() != 4 || s.ins[0].dtype != DType::F32 || !fitsInt({numel(x)})) return nullptr;
  Window2d w = poolWindow(s);
  if (w.dh != 1 || w.dw != 1 || w.pt != w.pb || w.pl != w.pr) return nullptr;
  // cuDNN's size rule is floor((in + 2p − k)/s) + 1; ceil_mode outputs that differ go to the own kernel.
  if ((x[2] + 2 * w.pt - w.kh) / w.sh + 1 != y[2] || (x[3] + 2 * w.pl - w.kw) / w.sw + 1 != y[3]) return nullptr;
  bool isMax = s.op == "MaxPool";
  bool countPad = !isMax && attrInt(s.attrs, "count_include_pad", 0, s.where()) != 0;
  int mode = isMax ? CUDNN_POOLING_MAX : countPad ? CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
  return tryMake<CudnnPool>(s, libs, w, mode);
}

KernelPtr makeCudnnSoftmax(const OpSpec& s, Libs& libs) {
  if (!libs.cudnn() || s.ins[0].dtype != DType::F32) return nullptr;
  const Shape& x = s.ins[0].shape;
  int64_t axis = attrInt(s.attrs, "axis", -1, s.where());
  if (axis < 0) axis += static_cast<int64_t>(x.size());
  if (axis < 0 || axis >= static_cast<int64_t>(x.size())) return nullptr;
  int64_t outer = numel(Shape(x.begin(), x.begin() + axis)), d = x[static_cast<size_t>(axis)], inner = numel(Shape(x.begin() + axis + 1, x.end()));
  if (!fitsInt({outer, d, inner, numel(x)})) return nullptr;
  return tryMake<CudnnPointwise>(libs, outer, d, inner);
}

KernelPtr makeCudnnActivation(const OpSpec& s, Libs& libs) {
  if (!libs.cudnn() || s.ins[0].dtype != DType::F32) return nullptr;
  int64_t n = numel(s.ins[0].shape);
  if (!fitsInt({n}) || n == 0) return nullptr;
  if (s.op == "Relu") return tryMake<CudnnPointwise>(libs, n, CUDNN_ACTIVATION_RELU, 0.0);
  if (s.op == "Sigmoid") return tryMake<CudnnPointwise>(libs, n, CUDNN_ACTIVATION_SIGMOID, 0.0);
  if (s.op == "Tanh") return tryMake<CudnnPointwise>(libs, n, CUDNN_ACTIVATION_TANH, 0.0);
  if (s.op == "Clip") {
    // Clip(0, max) is a clipped ReLU (ReLU6 in MobileNetV2); other ranges use the own kernel.
    double lo = attrFloat(s.attrs, "min", -1.0, s.where()), hi = attrFloat(s.attrs, "max", 1e300, s.where());
    if (lo == 0.0 && hi < 1e30) return tryMake<CudnnPointwise>(libs, n, CUDNN_ACTIVATION_CLIPPED_RELU, hi);
  }
  return nullptr;
}

KernelPtr makeCudnnBatchNorm(const OpSpec& s, Libs& libs) {
  if (!libs.cudnn()) return nullptr;
  const Shape& x = s.ins[0].shape;
  if (x.size() < 2 || s.ins.size() != 5) return nullptr;
  for (const auto& in : s.ins)
    if (in.dtype != DType::F32) return nullptr;
  if (attrInt(s.attrs, "training_mode", 0, s.where()) != 0) return nullptr;
  double eps = attrFloat(s.attrs, "epsilon", 1e-5, s.where());
  if (eps < 1e-5) return nullptr;  // cuDNN's CUDNN_BN_MIN_EPSILON
  int64_t hw = numel(Shape(x.begin() + 2, x.end()));
  if (!fitsInt({x[0], x[1], hw, numel(x)})) return nullptr;
  return tryMake<CudnnBatchNorm>(libs, x[0], x[1], hw, eps);
}

KernelPtr makeCublasGemm(const OpSpec& s, Libs& libs) {
  if (!libs.cublas()) return nullptr;
  for (const auto& in : s.ins)
    if (in.dtype != DType::F32) return nullptr;
  const Shape& a = s.ins[0].shape;
  const Shape& b = s.ins[1].shape;
  if (a.size() != 2 || b.size() != 2) return nullptr;
  const std::string wh = s.where();
  bool ta = attrInt(s.attrs, "transA", 0, wh) != 0, tb = attrInt(s.attrs, "transB", 0, wh) != 0;
  auto k = std::make_shared<CublasGemm>("cublas:gemm", libs);
  k->M = ta ? a[1] : a[0], k->K = ta ? a[0] : a[1], k->N = tb ? b[0] : b[1];
  if (!fitsInt({k->M, k->N, k->K, k->M * k->N})) return nullptr;
  k->opA = ta ? CUBLAS_OP_T : CUBLAS_OP_N, k->lda = i32(ta ? k->M : k->K);
  k->opB = tb ? CUBLAS_OP_T : CUBLAS_OP_N, k->ldb = i32(tb ? k->K : k->N);
  k->alpha = static_cast<float>(attrFloat(s.attrs, "alpha", 1.0, wh));
  k->beta = static_cast<float>(attrFloat(s.attrs, "beta", 1.0, wh));
  if (s.ins.size() > 2) {
    k->cIn = 2;
    k->constC = s.ins[2].data != nullptr;
    if (k->beta != 1.0f && !k->constC) return nullptr;  // the own kernel reports it
    k->cView = makeStrided({k->M, k->N}, broadcastStrides(s.ins[2].shape, {k->M, k->N}));
  }
  return k;
}

KernelPtr makeCublasMatMul(const OpSpec& s, Libs& libs) {
  if (!libs.cublas() || s.ins[0].dtype != DType::F32 || s.ins[1].dtype != DType::F32) return nullptr;
  Shape a = s.ins[0].shape, b = s.ins[1].shape;
  const Shape& y = s.outShapes[0];
  if (a.size() < 2 || b.size() < 2) return nullptr;
  size_t r = y.size();
  while (a.size() < r) a.insert(a.begin(), 1);
  while (b.size() < r) b.insert(b.begin(), 1);
  // One uniform stride per operand: its batch dims all match the output's, or it has none.
  int64_t batch = numel(Shape(y.begin(), y.end() - 2));
  int64_t na = numel(Shape(a.begin(), a.end() - 2)), nb = numel(Shape(b.begin(), b.end() - 2));
  if ((na != 1 && na != batch) || (nb != 1 && nb != batch)) return nullptr;
  if (na == batch && batch != 1 && !std::equal(a.begin(), a.end() - 2, y.begin())) return nullptr;
  if (nb == batch && batch != 1 && !std::equal(b.begin(), b.end() - 2, y.begin())) return nullptr;
  auto k = std::make_shared<CublasGemm>("cublas:matmul", libs);
  k->M = a[r - 2], k->K = a[r - 1], k->N = b[r - 1], k->batch = batch;
  if (!fitsInt({k->M, k->N, k->K, batch})) return nullptr;
  k->lda = i32(k->K), k->ldb = i32(k->N);
  k->strideA = na == 1 ? 0 : k->M * k->K;
  k->strideB = nb == 1 ? 0 : k->K * k->N;
  return k;
}

}  // namespace ts::cuda
