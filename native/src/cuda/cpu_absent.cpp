// Linked only into CUDA-only builds of the standalone runner (native/cuda/build-runner.sh) on
// machines without oneDNN: backends.cpp always names the CPU backend, and this says plainly that
// it was left out of this binary instead of failing to link.
#include "../backend.hpp"

namespace ts {

std::unique_ptr<Backend> createCpuBackend(const BackendOptions&) {
  throw Error("CPU backend not built: this runner was built for CUDA only (native/cuda/build-runner.sh, no oneDNN at build time)");
}

// No oneDNN, so no OpenMP teams to keep off helper threads (backend.hpp).
void singleThreadedHelper() {}

}  // namespace ts
