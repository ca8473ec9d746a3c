{
  # topsched native executor. One static library holds the C++ core (executor, CPU backend on
  # oneDNN); the Node addon (topsched_native.node) and the standalone runner (build/Release/runner,
  # no Node needed to run it) both link it, so the core compiles once. The Makefile builds the same
  # runner on machines without Node. oneDNN 2.x (Debian/Ubuntu: libdnnl-dev) and nlohmann-json are
  # required; check_deps.sh stops the build with the apt-get line when they are missing. The CUDA
  # backend (cuda.gypi) joins where nvcc is found at build time.
  "includes": ["cuda.gypi"],
  "variables": {
    "deps_ok": "<!(sh ./check_deps.sh)"
  },
  "target_defaults": {
    "cflags!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++1y", "-std=gnu++17"],
    "cflags_cc": ["-std=c++17", "-O3", "-fPIC", "-fopenmp", "-fexceptions", "-frtti", "-Wall", "-Wno-unused-parameter"],
    "ldflags": ["-fopenmp"]
  },
  "targets": [
    {
      "target_name": "topsched_core",
      "type": "static_library",
      "conditions": [["topsched_nvcc!=''", {"dependencies": ["topsched_cuda"]}]],
      "sources": [
        "src/common.cpp",
        "src/model.cpp",
        "src/plan.cpp",
        "src/merge.cpp",
        "src/epilogue.cpp",
        "src/layout.cpp",
        "src/inplace.cpp",
        "src/memcheck.cpp",
        "src/memory.cpp",
        "src/executor.cpp",
        "src/report.cpp",
        "src/profiler.cpp",
        "src/backends.cpp",
        "src/cpu/cpu_backend.cpp",
        "src/cpu/dnnl_base.cpp",
        "src/cpu/dnnl_linear.cpp",
        "src/cpu/dnnl_misc.cpp",
        "src/cpu/own_basic.cpp",
        "src/cpu/own_spatial.cpp",
        "src/cpu/own_rnn.cpp"
      ],
      "link_settings": {
        "libraries": ["-ldnnl", "-fopenmp"]
      }
    },
    {
      "target_name": "topsched_native",
      "conditions": [["topsched_nvcc!=''", {"dependencies": ["topsched_cuda"]}]],
      "sources": ["src/addon.cpp"],
      "dependencies": ["topsched_core"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"]
    },
    {
      "target_name": "runner",
      "conditions": [["topsched_nvcc!=''", {"dependencies": ["topsched_cuda"]}]],
      "type": "executable",
      "sources": ["src/runner.cpp"],
      "dependencies": ["topsched_core"]
    }
  ]
}
