#!/bin/sh
# Checks the CUDA backend without a GPU: builds the real kernels (src/cuda/k_*.cu, rewritten by
# translate.py), op classes, backend, executor core and schedule runner against the CPU emulation
# of the CUDA runtime in this folder, plus the CPU backend (oneDNN), then runs check_ops (every
# op's outputs on both backends, compared). Also leaves BUILD_DIR/cuda-bench: the command-line
# runner (src/cuda/graph_bench.cpp) on the emulated device, for whole-model checks.
# Usage: run.sh [BUILD_DIR]  (default native/build/cuda-emu). Needs g++ (C++20), python3, oneDNN.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
native=$(cd "$here/../.." && pwd)
out=${1:-$native/build/cuda-emu}
mkdir -p "$out"
CXX=${CXX:-g++}
# The emulated <cuda_runtime_api.h> comes first on the include path; the real toolkit is never used.
flags="-std=c++20 -O1 -fopenmp -w -DTOPSCHED_WITH_CUDA -I$here -I$native/src/cuda -I$native/src"
jobs="$out/jobs.txt"
: > "$jobs"
for k in k_elementwise k_spatial k_reduce k_gemm; do
  # Regenerated only when the kernel source changed (keeps the object's timestamp meaningful).
  if [ ! "$out/$k.emu.cpp" -nt "$native/src/cuda/$k.cu" ]; then python3 "$here/translate.py" "$native/src/cuda/$k.cu" "$out/$k.emu.cpp"; fi
  echo "$out/$k.emu.cpp $out/$k.o" >> "$jobs"
done
for f in cuda/ops_basic cuda/ops_spatial cuda/cuda_context cuda/libs cuda/lib_ops cuda/cuda_backend cuda/cuda_runner cuda/graph_bench \
  common model plan merge epilogue layout inplace memcheck memory executor report profiler backends \
  cpu/cpu_backend cpu/dnnl_base cpu/dnnl_linear cpu/dnnl_misc cpu/own_basic cpu/own_spatial cpu/own_rnn; do
  echo "$native/src/$f.cpp $out/$(echo "$f" | tr / _).o" >> "$jobs"
done
echo "$here/check_ops.cpp $out/check_ops.o" >> "$jobs"
export CXX flags
# Incremental: an object newer than its source and every header it may include is kept.
export here native
xargs -P "${JOBS:-2}" -L 1 sh -c '
  if [ "$1" -nt "$0" ] && [ -z "$(find "$native/src" "$here" -name "*.h*" -newer "$1" | head -n 1)" ]; then exit 0; fi
  $CXX $flags -c "$0" -o "$1" || exit 255
' < "$jobs"
shared=""
for o in "$out"/*.o; do
  case "$o" in */check_ops.o | */cuda_graph_bench.o) ;; *) shared="$shared $o" ;; esac
done
$CXX -fopenmp -o "$out/check_ops" "$out/check_ops.o" $shared -ldnnl -ldl -lpthread
$CXX -fopenmp -o "$out/cuda-bench" "$out/cuda_graph_bench.o" $shared -ldnnl -ldl -lpthread
TOPSCHED_CUDA_LIBS=none "$out/check_ops"
