#!/bin/sh
# Builds the standalone runner and cuda-bench with the CUDA backend on a machine that has only nvcc
# and g++ (the GPU machine: no Node, no network, maybe no oneDNN). Output in native/build/cuda-runner/:
#   runner      the executor's runner (native/src/runner.cpp): --backend cuda|cpu
#   cuda-bench  the asynchronous schedule runner with optional CUDA-graph replay (cuda_runner.hpp)
# Both link the CUDA runtime statically. oneDNN is used when its headers and library are present;
# otherwise the CPU backend is left out (src/cuda/cpu_absent.cpp says so when asked for "cpu").
#
# Needs nlohmann/json.hpp: from the system, TOPSCHED_INCLUDE_DIRS, or native/build/include (copy
# /usr/include/nlohmann there on a machine that has it and carry it along).
# Env: NVCC, CUDA_HOME, TOPSCHED_CUDA_ARCH (default: nvcc -arch=native when a GPU is visible, else
# the gencode list of find-nvcc.sh), JOBS (default: nproc), TOPSCHED_NO_DNNL=1 (leave the CPU
# backend out even where oneDNN exists).
set -eu
cd "$(dirname "$0")/.."
NATIVE=$(pwd)
NVCC=${NVCC:-$(sh cuda/find-nvcc.sh)}
[ -n "$NVCC" ] || { echo "build-runner: nvcc not found (PATH, CUDA_HOME, /usr/local/cuda)" >&2; exit 1; }
CUDA_HOME=${CUDA_HOME:-$(sh cuda/find-nvcc.sh home)}
[ -f "$CUDA_HOME/include/cuda_runtime_api.h" ] || { echo "build-runner: no CUDA headers under '$CUDA_HOME' (set CUDA_HOME)" >&2; exit 1; }
CUDA_LIB="$CUDA_HOME/lib64"
[ -f "$CUDA_LIB/libcudart_static.a" ] || CUDA_LIB="$CUDA_HOME/targets/x86_64-linux/lib"
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
OUT=build/cuda-runner
OBJ=$OUT/obj
mkdir -p "$OBJ/cpu" "$OBJ/cuda"

INC="-Isrc -I$CUDA_HOME/include"
json=""
for d in ${TOPSCHED_INCLUDE_DIRS:-} "$NATIVE/build/include" /usr/include /usr/local/include; do
  if [ -f "$d/nlohmann/json.hpp" ]; then json=$d; break; fi
done
[ -n "$json" ] || { echo "build-runner: nlohmann/json.hpp not found; copy /usr/include/nlohmann to $NATIVE/build/include/ (or set TOPSCHED_INCLUDE_DIRS)" >&2; exit 1; }
INC="$INC -I$json"

dnnl=""
for d in ${TOPSCHED_INCLUDE_DIRS:-} /usr/include /usr/local/include; do
  [ -f "$d/oneapi/dnnl/dnnl.hpp" ] && dnnl=1
done
for f in /usr/lib/*/libdnnl.so /usr/lib/libdnnl.so /usr/local/lib/libdnnl.so; do
  [ -e "$f" ] && dnnl="${dnnl}1"
done
CORE="common model plan merge epilogue layout inplace memcheck memory executor report profiler backends"
CUDA_HOST="cuda/cuda_context cuda/cuda_backend cuda/libs cuda/lib_ops cuda/ops_basic cuda/ops_spatial cuda/cuda_runner"
CXXFLAGS="-O3 -std=c++17 -fPIC -Wall -Wno-unused-parameter -DTOPSCHED_WITH_CUDA $INC"
if [ "$dnnl" = "11" ] && [ "${TOPSCHED_NO_DNNL:-0}" != "1" ]; then
  CPU="cpu/cpu_backend cpu/dnnl_base cpu/dnnl_linear cpu/dnnl_misc cpu/own_basic cpu/own_spatial cpu/own_rnn"
  CXXFLAGS="$CXXFLAGS -fopenmp"
  LIBS="-ldnnl -fopenmp"
  echo "build-runner: oneDNN found: the CPU backend is included"
else
  CPU="cuda/cpu_absent"
  LIBS=""
  echo "build-runner: no oneDNN: CUDA-only build (the CPU backend is left out)"
fi

ARCH=${TOPSCHED_CUDA_ARCH:-}
if [ -z "$ARCH" ]; then
  # -arch=native compiles for the GPUs present; without one nvcc warns and picks a default, so
  # fall back to the list then.
  probe=$("$NVCC" -arch=native -x cu -c /dev/null -o /dev/null 2>&1) && ok=1 || ok=0
  if [ "$ok" = 1 ] && ! echo "$probe" | grep -q "Cannot find valid GPU"; then ARCH="-arch=native"; else ARCH=$(sh cuda/find-nvcc.sh gencode); fi
fi
echo "build-runner: nvcc $NVCC ($ARCH), CUDA at $CUDA_HOME, $JOBS jobs"
# Device objects built for other architectures (or another nvcc) are rebuilt.
stamp="$NVCC $ARCH"
if [ "$(cat "$OBJ/cuda/arch.stamp" 2>/dev/null)" != "$stamp" ]; then rm -f "$OBJ"/cuda/*.cu.o; echo "$stamp" > "$OBJ/cuda/arch.stamp"; fi

# One job per line: "kind source object"; xargs runs them in parallel.
jobs=$OUT/jobs.txt
: > "$jobs"
for f in k_elementwise k_spatial k_reduce k_gemm; do echo "cu src/cuda/$f.cu $OBJ/cuda/$f.cu.o" >> "$jobs"; done
for f in $CORE $CPU $CUDA_HOST runner cuda/graph_bench; do echo "cc src/$f.cpp $OBJ/$f.o" >> "$jobs"; done
export NVCC ARCH CXXFLAGS
xargs -P "$JOBS" -L 1 sh -c '
  kind=$0 src=$1 obj=$2
  # Incremental: an object newer than its source and every header is kept.
  if [ "$obj" -nt "$src" ] && [ -z "$(find src -name "*.hpp" -newer "$obj" | head -n 1)" ]; then exit 0; fi
  if [ "$kind" = cu ]; then
    "$NVCC" -std=c++17 -O3 -Xcompiler -fPIC $ARCH -Isrc -c "$src" -o "$obj"
  else
    ${CXX:-g++} $CXXFLAGS -c "$src" -o "$obj"
  fi || { echo "build-runner: compiling $src failed" >&2; exit 255; }
' < "$jobs"

objs=""
for f in $CORE $CPU $CUDA_HOST; do objs="$objs $OBJ/$f.o"; done
for f in k_elementwise k_spatial k_reduce k_gemm; do objs="$objs $OBJ/cuda/$f.cu.o"; done
LINK="-L$CUDA_LIB -lcudart_static -ldl -lrt -lpthread $LIBS"
${CXX:-g++} -O3 -o "$OUT/runner" "$OBJ/runner.o" $objs $LINK
${CXX:-g++} -O3 -o "$OUT/cuda-bench" "$OBJ/cuda/graph_bench.o" $objs $LINK
echo "build-runner: built $NATIVE/$OUT/runner and $NATIVE/$OUT/cuda-bench"
