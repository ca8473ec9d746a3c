// cuDNN and cuBLAS, opened with dlopen at run time when present (libcudnn.so.9/8,
// libcublas.so.13/12). Their headers are not needed to build: the few entry points used are
// declared here with the C ABI of the legacy cuDNN API (cudnn_ops / cudnn_cnn, unchanged from
// cuDNN 8 to 9) and cuBLAS v2. Every kernel that uses them has an own-kernel fallback, so a machine
// without either library runs every op all the same. TOPSCHED_CUDA_LIBS=none forces own kernels
// (to compare), =cudnn or =cublas keeps only that one.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>

namespace ts::cuda {

// cuDNN handles and enums (values as in cudnn_graph.h / cudnn_ops.h / cudnn_cnn.h).
using cudnnHandle_t = void*;
using cudnnTensorDescriptor_t = void*;
using cudnnFilterDescriptor_t = void*;
using cudnnConvolutionDescriptor_t = void*;
using cudnnPoolingDescriptor_t = void*;
using cudnnActivationDescriptor_t = void*;
using cudnnStatus_t = int;
enum : int { CUDNN_STATUS_SUCCESS = 0 };
enum : int { CUDNN_DATA_FLOAT = 0 };
enum : int { CUDNN_TENSOR_NCHW = 0 };
enum : int { CUDNN_NOT_PROPAGATE_NAN = 0, CUDNN_PROPAGATE_NAN = 1 };
enum : int { CUDNN_CROSS_CORRELATION = 1 };
enum : int { CUDNN_FMA_MATH = 3 };
enum : int { CUDNN_ACTIVATION_SIGMOID = 0, CUDNN_ACTIVATION_RELU = 1, CUDNN_ACTIVATION_TANH = 2, CUDNN_ACTIVATION_CLIPPED_RELU = 3 };
enum : int { CUDNN_SOFTMAX_ACCURATE = 1, CUDNN_SOFTMAX_MODE_CHANNEL = 1 };
enum : int { CUDNN_POOLING_MAX = 0, CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING = 1, CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING = 2 };
enum : int { CUDNN_BATCHNORM_SPATIAL = 1 };
/** cudnnConvolutionFwdAlgoPerf_t of cuDNN 8/9, field for field (48 bytes): results come back as
 *  an array, so the size must be exact. */
struct CudnnFwdPerf {
  int algo;
  int status;
  float time;
  size_t memory;
  int determinism;
  int mathType;
  int reserved[3];
};
static_assert(sizeof(CudnnFwdPerf) == 48, "cudnnConvolutionFwdAlgoPerf_t layout");

// cuBLAS
using cublasHandle_t = void*;
using cublasStatus_t = int;
enum : int { CUBLAS_STATUS_SUCCESS = 0 };
enum : int { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };

struct CudnnApi {
  size_t (*GetVersion)();
  const char* (*GetErrorString)(cudnnStatus_t);
  cudnnStatus_t (*Create)(cudnnHandle_t*);
  cudnnStatus_t (*Destroy)(cudnnHandle_t);
  cudnnStatus_t (*SetStream)(cudnnHandle_t, cudaStream_t);
  cudnnStatus_t (*CreateTensorDescriptor)(cudnnTensorDescriptor_t*);
  cudnnStatus_t (*DestroyTensorDescriptor)(cudnnTensorDescriptor_t);
  cudnnStatus_t (*SetTensor4dDescriptor)(cudnnTensorDescriptor_t, int format, int dataType, int n, int c, int h, int w);
  cudnnStatus_t (*CreateFilterDescriptor)(cudnnFilterDescriptor_t*);
  cudnnStatus_t (*DestroyFilterDescriptor)(cudnnFilterDescriptor_t);
  cudnnStatus_t (*SetFilter4dDescriptor)(cudnnFilterDescriptor_t, int dataType, int format, int k, int c, int h, int w);
  cudnnStatus_t (*CreateConvolutionDescriptor)(cudnnConvolutionDescriptor_t*);
  cudnnStatus_t (*DestroyConvolutionDescriptor)(cudnnConvolutionDescriptor_t);
  cudnnStatus_t (*SetConvolution2dDescriptor)(cudnnConvolutionDescriptor_t, int padH, int padW, int u, int v, int dilH, int dilW, int mode, int computeType);
  cudnnStatus_t (*SetConvolutionGroupCount)(cudnnConvolutionDescriptor_t, int);
  cudnnStatus_t (*SetConvolutionMathType)(cudnnConvolutionDescriptor_t, int);
  cudnnStatus_t (*GetConvolution2dForwardOutputDim)(cudnnConvolutionDescriptor_t, cudnnTensorDescriptor_t, cudnnFilterDescriptor_t, int*, int*, int*, int*);
  cudnnStatus_t (*GetConvolutionForwardAlgorithm_v7)(cudnnHandle_t, cudnnTensorDescriptor_t, cudnnFilterDescriptor_t, cudnnConvolutionDescriptor_t, cudnnTensorDescriptor_t, int,
                                                    int*, CudnnFwdPerf*);
  cudnnStatus_t (*GetConvolutionForwardWorkspaceSize)(cudnnHandle_t, cudnnTensorDescriptor_t, cudnnFilterDescriptor_t, cudnnConvolutionDescriptor_t, cudnnTensorDescriptor_t, int,
                                                     size_t*);
  cudnnStatus_t (*ConvolutionForward)(cudnnHandle_t, const void* alpha, cudnnTensorDescriptor_t, const void*, cudnnFilterDescriptor_t, const void*, cudnnConvolutionDescriptor_t,
                                      int algo, void* ws, size_t wsBytes, const void* beta, cudnnTensorDescriptor_t, void*);
  cudnnStatus_t (*AddTensor)(cudnnHandle_t, const void* alpha, cudnnTensorDescriptor_t, const void*, const void* beta, cudnnTensorDescriptor_t, void*);
  cudnnStatus_t (*CreatePoolingDescriptor)(cudnnPoolingDescriptor_t*);
  cudnnStatus_t (*DestroyPoolingDescriptor)(cudnnPoolingDescriptor_t);
  cudnnStatus_t (*SetPooling2dDescriptor)(cudnnPoolingDescriptor_t, int mode, int nanOpt, int wh, int ww, int ph, int pw, int sh, int sw);
  cudnnStatus_t (*PoolingForward)(cudnnHandle_t, cudnnPoolingDescriptor_t, const void* alpha, cudnnTensorDescriptor_t, const void*, const void* beta, cudnnTensorDescriptor_t, void*);
  cudnnStatus_t (*CreateActivationDescriptor)(cudnnActivationDescriptor_t*);
  cudnnStatus_t (*DestroyActivationDescriptor)(cudnnActivationDescriptor_t);
  cudnnStatus_t (*SetActivationDescriptor)(cudnnActivationDescriptor_t, int mode, int nanOpt, double coef);
  cudnnStatus_t (*ActivationForward)(cudnnHandle_t, cudnnActivationDescriptor_t, const void* alpha, cudnnTensorDescriptor_t, const void*, const void* beta, cudnnTensorDescriptor_t,
                                     void*);
  cudnnStatus_t (*SoftmaxForward)(cudnnHandle_t, int algo, int mode, const void* alpha, cudnnTensorDescriptor_t, const void*, const void* beta, cudnnTensorDescriptor_t, void*);
  cudnnStatus_t (*BatchNormalizationForwardInference)(cudnnHandle_t, int mode, const void* alpha, const void* beta, cudnnTensorDescriptor_t, const void* x,
                                                      cudnnTensorDescriptor_t, void* y, cudnnTensorDescriptor_t, const void* scale, const void* bias, const void* mean,
                                                      const void* var, double eps);
};

struct CublasApi {
  cublasStatus_t (*Create)(cublasHandle_t*);
  cublasStatus_t (*Destroy)(cublasHandle_t);
  cublasStatus_t (*SetStream)(cublasHandle_t, cudaStream_t);
  cublasStatus_t (*GetVersion)(cublasHandle_t, int*);
  /** Optional (cuBLAS 11.4+): a user workspace keeps cuBLAS from allocating during graph capture. */
  cublasStatus_t (*SetWorkspace)(cublasHandle_t, void*, size_t);
  cublasStatus_t (*Sgemm)(cublasHandle_t, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda, const float* B, int ldb, const float* beta, float* C,
                          int ldc);
  cublasStatus_t (*SgemmStridedBatched)(cublasHandle_t, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda, long long sA, const float* B, int ldb,
                                        long long sB, const float* beta, float* C, int ldc, long long sC, int batch);
};

/** The libraries found at backend creation; a null api means "absent or disabled". */
class Libs {
 public:
  Libs();
  ~Libs();
  Libs(const Libs&) = delete;
  Libs& operator=(const Libs&) = delete;
  const CudnnApi* cudnn() const { return cudnnOk_ ? &dnn_ : nullptr; }
  const CublasApi* cublas() const { return cublasOk_ ? &blas_ : nullptr; }
  /** e.g. "cudnn 9.1.0 (libcudnn.so.9)" or "cudnn: not found (libcudnn.so.9, libcudnn.so.8)". */
  std::string cudnnInfo() const { return cudnnInfo_; }
  std::string cublasInfo() const { return cublasInfo_; }
  /** A handle for compile-time queries (cuDNN algorithm choice), created on first use. */
  cudnnHandle_t queryHandle();

 private:
  void* cudnnLib_ = nullptr;
  void* cublasLib_ = nullptr;
  bool cudnnOk_ = false, cublasOk_ = false;
  CudnnApi dnn_{};
  CublasApi blas_{};
  std::string cudnnInfo_, cublasInfo_;
  cudnnHandle_t query_ = nullptr;
};

/** Throws Error("<what>: cuDNN status N (<message>)") unless st is success. */
void checkCudnn(const Libs& libs, cudnnStatus_t st, const char* what);
void checkCublas(cublasStatus_t st, const char* what);

}  // namespace ts::cuda
