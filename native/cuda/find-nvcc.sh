#!/bin/sh
# Build-time probe for the CUDA backend (used by native/cuda.gypi and build-runner.sh).
#   find-nvcc.sh        prints the nvcc path, or nothing when CUDA is absent or disabled
#   find-nvcc.sh home   prints the CUDA toolkit root (the directory above nvcc's bin/)
#   find-nvcc.sh gencode  prints the nvcc -gencode flags (TOPSCHED_CUDA_GENCODE overrides)
# TOPSCHED_WITH_CUDA=0 disables CUDA even where nvcc exists.
nvcc=""
if [ "${TOPSCHED_WITH_CUDA:-1}" != "0" ]; then
  for c in "$(command -v nvcc 2>/dev/null)" "${CUDA_HOME:-}/bin/nvcc" "${CUDA_PATH:-}/bin/nvcc" /usr/local/cuda/bin/nvcc; do
    if [ -n "$c" ] && [ -x "$c" ]; then nvcc="$c"; break; fi
  done
fi
case "${1:-}" in
  home)
    # nvcc may be a wrapper script (as /usr/local/bin/nvcc is here): take the first candidate that
    # holds the runtime header, nvcc's own TOP (from --dryrun) included.
    [ -z "$nvcc" ] && exit 0
    top=$("$nvcc" --dryrun -c -x cu /dev/null 2>&1 | sed -n 's/^#\$ TOP=//p' | head -n 1)
    for h in "${CUDA_HOME:-}" "${CUDA_PATH:-}" "$top" "$(dirname "$(dirname "$nvcc")")" /usr/local/cuda; do
      if [ -n "$h" ] && [ -f "$h/include/cuda_runtime_api.h" ]; then (cd "$h" && pwd -P); exit 0; fi
    done
    ;;
  gencode)
    # Turing, Ampere (sm_86/89 run the sm_80 binary), Hopper, plus compute_90 PTX for newer GPUs.
    echo "${TOPSCHED_CUDA_GENCODE:--gencode=arch=compute_75,code=sm_75 -gencode=arch=compute_80,code=sm_80 -gencode=arch=compute_90,code=[sm_90,compute_90]}"
    ;;
  *)
    echo "$nvcc"
    ;;
esac
exit 0
