// Backend registry. The CUDA backend is compiled in only with TOPSCHED_WITH_CUDA (it needs nvcc and
// the CUDA runtime); without it, asking for "cuda" is an error that says so.
#include "backend.hpp"

#include <cstdlib>

namespace ts {

std::unique_ptr<Backend> createCpuBackend(const BackendOptions& opts);
#ifdef TOPSCHED_WITH_CUDA
std::unique_ptr<Backend> createCudaBackend(const BackendOptions& opts);
#endif

std::unique_ptr<Backend> createBackend(const std::string& name, const BackendOptions& opts) {
  if (opts.streams < 1 || opts.streams > 64) throw Error("streams must be in 1..64, got " + std::to_string(opts.streams));
  if (opts.opThreads < 1 || opts.opThreads > 256) throw Error("opThreads must be in 1..256, got " + std::to_string(opts.opThreads));
  BackendOptions o = opts;
  const char* env = std::getenv("TOPSCHED_OP_THREADS");
  o.opThreadChoice = !opts.opThreadChoice.empty() ? opts.opThreadChoice : env && *env ? env : "measure";
  if (o.opThreadChoice != "measure" && o.opThreadChoice != "rule")
    throw Error("opThreadChoice must be 'measure' or 'rule', got '" + o.opThreadChoice + "'" + (opts.opThreadChoice.empty() ? " (from TOPSCHED_OP_THREADS)" : ""));
  if (name == "cpu") return createCpuBackend(o);
  if (name == "cuda") {
#ifdef TOPSCHED_WITH_CUDA
    return createCudaBackend(o);
#else
    throw Error("CUDA backend not built (nvcc not found at build time): rebuild the addon where the CUDA toolkit is installed (native/cuda.gypi)");
#endif
  }
  throw Error("unknown backend '" + name + "' (cpu, cuda)");
}

}  // namespace ts
