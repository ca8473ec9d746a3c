#include "cuda_context.hpp"

#include "libs.hpp"

namespace ts::cuda {

void check(cudaError_t st, const char* what) {
  if (st == cudaSuccess) return;
  throw Error(std::string(what) + ": " + cudaGetErrorName(st) + ": " + cudaGetErrorString(st));
}

void checkLaunch(const char* what) { check(cudaGetLastError(), what); }

DeviceBuffer::DeviceBuffer(size_t bytes) { reserve(bytes); }

DeviceBuffer::~DeviceBuffer() {
  if (p_) cudaFree(p_);
}

void* DeviceBuffer::reserve(size_t bytes) {
  if (bytes <= n_ && p_) return p_;
  if (p_) {
    cudaFree(p_);
    p_ = nullptr;
    n_ = 0;
  }
  size_t rounded = (std::max<size_t>(bytes, 1) + 255) / 256 * 256;
  check(cudaMalloc(&p_, rounded), ("cudaMalloc(" + std::to_string(rounded) + " bytes)").c_str());
  n_ = rounded;
  return p_;
}

PinnedBuffer::~PinnedBuffer() {
  if (p_) cudaFreeHost(p_);
}

void* PinnedBuffer::reserve(size_t bytes) {
  if (bytes <= n_ && p_) return p_;
  if (p_) {
    cudaFreeHost(p_);
    p_ = nullptr;
    n_ = 0;
  }
  // Grow geometrically: staging sizes creep up as models of different sizes come and go.
  size_t rounded = std::max<size_t>((bytes + 4095) / 4096 * 4096, 2 * n_);
  check(cudaHostAlloc(&p_, rounded, cudaHostAllocDefault), ("cudaHostAlloc(" + std::to_string(rounded) + " bytes)").c_str());
  n_ = rounded;
  return p_;
}

std::shared_ptr<DeviceBuffer> upload(const void* host, size_t bytes) {
  auto b = std::make_shared<DeviceBuffer>(bytes);
  if (bytes) check(cudaMemcpy(b->data(), host, bytes, cudaMemcpyHostToDevice), "upload of kernel constants");
  return b;
}

CudaContext::CudaContext(cudaStream_t s, Libs* l, int dev) : stream(s), device(dev), libs(l) {}

CudaContext::~CudaContext() {
  if (cudnn_ && libs && libs->cudnn()) libs->cudnn()->Destroy(cudnn_);
  if (cublas_ && libs && libs->cublas()) libs->cublas()->Destroy(cublas_);
}

void CudaContext::finish(const char* what) {
  checkLaunch(what);
  if (syncEachOp) check(cudaStreamSynchronize(stream), what);
}

int* CudaContext::errorFlag() {
  if (!flag_.data()) {
    flag_.reserve(sizeof(int));
    check(cudaMemsetAsync(flag_.data(), 0, sizeof(int), stream), "clearing the error flag");
  }
  return static_cast<int*>(flag_.data());
}

int CudaContext::takeError() {
  if (!flag_.data()) return 0;
  int v = 0;
  check(cudaMemcpyAsync(&v, flag_.data(), sizeof(int), cudaMemcpyDeviceToHost, stream), "reading the error flag");
  check(cudaStreamSynchronize(stream), "reading the error flag");
  if (v) check(cudaMemsetAsync(flag_.data(), 0, sizeof(int), stream), "clearing the error flag");
  return v;
}

void* CudaContext::cudnn() {
  if (!cudnn_ && libs && libs->cudnn()) {
    checkCudnn(*libs, libs->cudnn()->Create(&cudnn_), "cudnnCreate");
    checkCudnn(*libs, libs->cudnn()->SetStream(cudnn_, stream), "cudnnSetStream");
  }
  return cudnn_;
}

void* CudaContext::cublas() {
  if (!cublas_ && libs && libs->cublas()) {
    checkCublas(libs->cublas()->Create(&cublas_), "cublasCreate");
    checkCublas(libs->cublas()->SetStream(cublas_, stream), "cublasSetStream");
    if (libs->cublas()->SetWorkspace) {
      // 32 MiB, NVIDIA's recommendation for Hopper; owned here so graph capture never allocates.
      cublasWs_.reserve(size_t{32} << 20);
      checkCublas(libs->cublas()->SetWorkspace(cublas_, cublasWs_.data(), cublasWs_.size()), "cublasSetWorkspace");
    }
  }
  return cublas_;
}

}  // namespace ts::cuda
