// ONNX Resize index arithmetic shared by every backend, so CPU and CUDA agree on the same output.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

namespace ts {

/** ONNX Resize coordinate transform: output index → input coordinate. */
inline float resizeSourceCoord(const std::string& mode, int64_t x, float scale, int64_t inLen, int64_t outLen) {
  float xf = static_cast<float>(x);
  if (mode == "half_pixel") return (xf + 0.5f) / scale - 0.5f;
  if (mode == "pytorch_half_pixel") return outLen > 1 ? (xf + 0.5f) / scale - 0.5f : 0.f;
  if (mode == "align_corners") return outLen == 1 ? 0.f : xf * static_cast<float>(inLen - 1) / static_cast<float>(outLen - 1);
  if (mode == "asymmetric") return xf / scale;
  return (xf + 0.5f) / scale;  // tf_half_pixel_for_nn
}

/** ONNX nearest_mode: an input coordinate → the input index it reads. */
inline int64_t resizeNearestIndex(const std::string& mode, float c) {
  if (mode == "floor") return static_cast<int64_t>(std::floor(c));
  if (mode == "ceil") return static_cast<int64_t>(std::ceil(c));
  float fl = std::floor(c);
  if (c - fl == 0.5f) return static_cast<int64_t>(mode == "round_prefer_ceil" ? fl + 1 : fl);
  return static_cast<int64_t>(std::round(c));
}

}  // namespace ts
