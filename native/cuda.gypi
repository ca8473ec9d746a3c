{
  # The CUDA backend (native/src/cuda), included from binding.gyp. Where nvcc is found at build time
  # (cuda/find-nvcc.sh; TOPSCHED_WITH_CUDA=0 turns it off) it defines the static library
  # topsched_cuda: the .cu kernels compiled by nvcc through a rule, the host side by g++ against the
  # CUDA headers. Depending on it gives the addon TOPSCHED_WITH_CUDA (backends.cpp then builds
  # "cuda") and links the CUDA runtime statically, so the addon loads on machines without the
  # toolkit or a GPU (creating the backend there says "no CUDA device: ..."). Without nvcc nothing
  # is defined and `backend: 'cuda'` reports that the backend was not built.
  "variables": {
    "topsched_nvcc%": "<!(sh ./cuda/find-nvcc.sh)",
    "topsched_cuda_home%": "<!(sh ./cuda/find-nvcc.sh home)",
    "topsched_cuda_gencode%": "<!(sh ./cuda/find-nvcc.sh gencode)"
  },
  "conditions": [
    ["topsched_nvcc!=''", {
      "targets": [
        {
          "target_name": "topsched_cuda",
          "type": "static_library",
          "sources": [
            "src/cuda/k_elementwise.cu",
            "src/cuda/k_spatial.cu",
            "src/cuda/k_reduce.cu",
            "src/cuda/k_gemm.cu",
            "src/cuda/cuda_context.cpp",
            "src/cuda/cuda_backend.cpp",
            "src/cuda/libs.cpp",
            "src/cuda/lib_ops.cpp",
            "src/cuda/ops_basic.cpp",
            "src/cuda/ops_spatial.cpp",
            "src/cuda/cuda_runner.cpp"
          ],
          "include_dirs": ["<(topsched_cuda_home)/include"],
          "defines": ["TOPSCHED_WITH_CUDA"],
          "cflags!": ["-fno-exceptions", "-fno-rtti"],
          "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++1y", "-std=gnu++17"],
          "cflags_cc": ["-std=c++17", "-O3", "-fPIC", "-fexceptions", "-frtti", "-Wall", "-Wno-unused-parameter"],
          "rules": [
            {
              "rule_name": "nvcc",
              "extension": "cu",
              "inputs": ["<(RULE_INPUT_PATH)", "src/cuda/launch.hpp", "src/cuda/grid.hpp"],
              "outputs": ["<(INTERMEDIATE_DIR)/<(RULE_INPUT_ROOT).cu.o"],
              "action": ["sh", "-c", "\"<(topsched_nvcc)\" -std=c++17 -O3 -Xcompiler -fPIC <(topsched_cuda_gencode) -c <(RULE_INPUT_PATH) -o <(INTERMEDIATE_DIR)/<(RULE_INPUT_ROOT).cu.o"],
              "message": "nvcc <(RULE_INPUT_NAME)",
              "process_outputs_as_sources": 1
            }
          ],
          "direct_dependent_settings": {
            "defines": ["TOPSCHED_WITH_CUDA"],
            "include_dirs": ["<(topsched_cuda_home)/include"]
          },
          "link_settings": {
            "libraries": ["-L<(topsched_cuda_home)/lib64", "-lcudart_static", "-ldl", "-lrt", "-lpthread"]
          }
        }
      ]
    }]
  ]
}
