#include "libs.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

#include "../common.hpp"

namespace ts::cuda {

namespace {

/** First library of the list that dlopen finds; `tried` lists them all for the report. */
void* openFirst(std::initializer_list<const char*> names, std::string& which, std::string& tried) {
  for (const char* n : names) {
    tried += (tried.empty() ? "" : ", ") + std::string(n);
    if (void* h = dlopen(n, RTLD_NOW | RTLD_LOCAL)) {
      which = n;
      return h;
    }
  }
  return nullptr;
}

template <typename F>
bool resolve(void* lib, const char* name, F& fn, std::string& missing) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (!fn) missing += (missing.empty() ? "" : ", ") + std::string(name);
  return fn != nullptr;
}

std::mutex queryMu;

}  // namespace

Libs::Libs() {
  const char* env = std::getenv("TOPSCHED_CUDA_LIBS");
  std::string want = env ? env : "all";
  bool wantDnn = want == "all" || want == "cudnn", wantBlas = want == "all" || want == "cublas";
  if (!wantDnn) cudnnInfo_ = "cudnn: disabled (TOPSCHED_CUDA_LIBS=" + want + ")";
  if (!wantBlas) cublasInfo_ = "cublas: disabled (TOPSCHED_CUDA_LIBS=" + want + ")";
  if (wantDnn) {
    std::string which, tried, missing;
    cudnnLib_ = openFirst({"libcudnn.so.9", "libcudnn.so.8", "libcudnn.so"}, which, tried);
    if (!cudnnLib_) {
      cudnnInfo_ = "cudnn: not found (" + tried + ")";
    } else {
      bool ok = true;
      auto r = [&](const char* n, auto& f) { ok = resolve(cudnnLib_, n, f, missing) && ok; };
      r("cudnnGetVersion", dnn_.GetVersion);
      r("cudnnGetErrorString", dnn_.GetErrorString);
      r("cudnnCreate", dnn_.Create);
      r("cudnnDestroy", dnn_.Destroy);
      r("cudnnSetStream", dnn_.SetStream);
      r("cudnnCreateTensorDescriptor", dnn_.CreateTensorDescriptor);
      r("cudnnDestroyTensorDescriptor", dnn_.DestroyTensorDescriptor);
      r("cudnnSetTensor4dDescriptor", dnn_.SetTensor4dDescriptor);
      r("cudnnCreateFilterDescriptor", dnn_.CreateFilterDescriptor);
      r("cudnnDestroyFilterDescriptor", dnn_.DestroyFilterDescriptor);
      r("cudnnSetFilter4dDescriptor", dnn_.SetFilter4dDescriptor);
      r("cudnnCreateConvolutionDescriptor", dnn_.CreateConvolutionDescriptor);
      r("cudnnDestroyConvolutionDescriptor", dnn_.DestroyConvolutionDescriptor);
      r("cudnnSetConvolution2dDescriptor", dnn_.SetConvolution2dDescriptor);
      r("cudnnSetConvolutionGroupCount", dnn_.SetConvolutionGroupCount);
      r("cudnnSetConvolutionMathType", dnn_.SetConvolutionMathType);
      r("cudnnGetConvolution2dForwardOutputDim", dnn_.GetConvolution2dForwardOutputDim);
      r("cudnnGetConvolutionForwardAlgorithm_v7", dnn_.GetConvolutionForwardAlgorithm_v7);
      r("cudnnGetConvolutionForwardWorkspaceSize", dnn_.GetConvolutionForwardWorkspaceSize);
      r("cudnnConvolutionForward", dnn_.ConvolutionForward);
      r("cudnnAddTensor", dnn_.AddTensor);
      r("cudnnCreatePoolingDescriptor", dnn_.CreatePoolingDescriptor);
      r("cudnnDestroyPoolingDescriptor", dnn_.DestroyPoolingDescriptor);
      r("cudnnSetPooling2dDescriptor", dnn_.SetPooling2dDescriptor);
      r("cudnnPoolingForward", dnn_.PoolingForward);
      r("cudnnCreateActivationDescriptor", dnn_.CreateActivationDescriptor);
      r("cudnnDestroyActivationDescriptor", dnn_.DestroyActivationDescriptor);
      r("cudnnSetActivationDescriptor", dnn_.SetActivationDescriptor);
      r("cudnnActivationForward", dnn_.ActivationForward);
      r("cudnnSoftmaxForward", dnn_.SoftmaxForward);
      r("cudnnBatchNormalizationForwardInference", dnn_.BatchNormalizationForwardInference);
      if (!ok) {
        cudnnInfo_ = "cudnn: " + which + " lacks " + missing;
      } else {
        size_t v = dnn_.GetVersion();
        // cuDNN 9 encodes major·10000 + minor·100 + patch; cuDNN 8 major·1000 + minor·100 + patch.
        size_t major = v >= 90000 ? v / 10000 : v / 1000, minor = v >= 90000 ? (v / 100) % 100 : (v / 100) % 10, patch = v % 100;
        cudnnInfo_ = "cudnn " + std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch) + " (" + which + ")";
        cudnnOk_ = true;
      }
    }
  }
  if (wantBlas) {
    std::string which, tried, missing;
    cublasLib_ = openFirst({"libcublas.so.13", "libcublas.so.12", "libcublas.so"}, which, tried);
    if (!cublasLib_) {
      cublasInfo_ = "cublas: not found (" + tried + ")";
    } else {
      bool ok = true;
      auto r = [&](const char* n, auto& f) { ok = resolve(cublasLib_, n, f, missing) && ok; };
      r("cublasCreate_v2", blas_.Create);
      r("cublasDestroy_v2", blas_.Destroy);
      r("cublasSetStream_v2", blas_.SetStream);
      r("cublasGetVersion_v2", blas_.GetVersion);
      r("cublasSgemm_v2", blas_.Sgemm);
      r("cublasSgemmStridedBatched", blas_.SgemmStridedBatched);
      blas_.SetWorkspace = reinterpret_cast<decltype(blas_.SetWorkspace)>(dlsym(cublasLib_, "cublasSetWorkspace_v2"));
      cublasOk_ = ok;
      cublasInfo_ = ok ? "cublas (" + which + ")" : "cublas: " + which + " lacks " + missing;
    }
  }
}

Libs::~Libs() {
  if (query_ && cudnnOk_) dnn_.Destroy(query_);
  // The libraries stay loaded: handles of other objects may outlive this one during teardown.
}

cudnnHandle_t Libs::queryHandle() {
  std::lock_guard<std::mutex> l(queryMu);
  if (!query_ && cudnnOk_) checkCudnn(*this, dnn_.Create(&query_), "cudnnCreate");
  return query_;
}

void checkCudnn(const Libs& libs, cudnnStatus_t st, const char* what) {
  if (st == CUDNN_STATUS_SUCCESS) return;
  const CudnnApi* api = libs.cudnn();
  std::string msg = api ? api->GetErrorString(st) : "";
  throw Error(std::string(what) + ": cuDNN status " + std::to_string(st) + (msg.empty() ? "" : " (" + msg + ")"));
}

void checkCublas(cublasStatus_t st, const char* what) {
  if (st != CUBLAS_STATUS_SUCCESS) throw Error(std::string(what) + ": cuBLAS status " + std::to_string(st));
}

}  // namespace ts::cuda
