// ONNX Resize index arithmetic shared by every backend, so CPU and CUDA agree on the same output:
// the coordinate rules and the per-dimension look-up tables (input indices and weights) a kernel uses.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "backend.hpp"

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

/**
 * Per output dimension d and index o: read input indices lo[d][o] and hi[d][o], blended by
 * frac[d][o] (linear mode, last two dims); nearest mode and kept dims have lo = hi, frac = 0.
 */
struct ResizeTables {
  bool linear = false;
  std::vector<std::vector<int64_t>> lo, hi;
  std::vector<std::vector<float>> frac;
};

/**
 * Validates a Resize node and builds its tables with ONNX (opset ≥ 11) semantics and defaults:
 * coordinate_transformation_mode half_pixel, nearest_mode round_prefer_floor. The scale in the
 * coordinate rule is the attribute when float32(scale)·in floors to the output size (what
 * onnxruntime is given), else output/input; linear coordinates are clamped to the input like
 * onnxruntime's bilinear kernel. `unsupported(spec, why)` is the backend's own (throwing) report.
 */
template <class Unsupported>
ResizeTables resizeTables(const OpSpec& s, Unsupported unsupported) {
  const Shape& x = s.ins[0].shape;
  const Shape& y = s.outShapes[0];
  const std::string w = s.where();
  std::string mode = attrStr(s.attrs, "mode", "nearest", w);
  std::string ctm = attrStr(s.attrs, "coordinate_transformation_mode", "half_pixel", w);
  std::string nm = attrStr(s.attrs, "nearest_mode", "round_prefer_floor", w);
  if (mode != "nearest" && mode != "linear") unsupported(s, "mode '" + mode + "' (nearest, linear)");
  static const char* modes[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn"};
  if (std::none_of(std::begin(modes), std::end(modes), [&](const char* m) { return ctm == m; })) unsupported(s, "coordinate_transformation_mode '" + ctm + "'");
  if (nm != "round_prefer_floor" && nm != "round_prefer_ceil" && nm != "floor" && nm != "ceil") unsupported(s, "nearest_mode '" + nm + "'");
  auto scales = attrFloats(s.attrs, "scales", {}, w);
  if (scales.size() != x.size() || x.empty()) unsupported(s, "scales do not match the rank");
  ResizeTables t;
  t.linear = mode == "linear";
  size_t r = x.size();
  if (t.linear) {
    if (r < 2) unsupported(s, "linear resize of a rank-1 tensor");
    for (size_t d = 0; d + 2 < r; d++)
      if (x[d] != y[d]) unsupported(s, "linear resize of a dim other than the last two");
  }
  for (size_t d = 0; d < r; d++) {
    float sc = static_cast<float>(scales[d]);
    bool exact = static_cast<double>(sc) == scales[d] && static_cast<int64_t>(std::floor(sc * static_cast<float>(x[d]))) == y[d];
    float used = exact ? sc : static_cast<float>(y[d]) / static_cast<float>(x[d]);
    std::vector<int64_t> lo(static_cast<size_t>(y[d])), hi(static_cast<size_t>(y[d]));
    std::vector<float> frac(static_cast<size_t>(y[d]), 0.f);
    for (int64_t o = 0; o < y[d]; o++) {
      auto k = static_cast<size_t>(o);
      float c = resizeSourceCoord(ctm, o, used, x[d], y[d]);
      if (t.linear && d + 2 >= r) {
        c = std::max(0.f, std::min(c, static_cast<float>(x[d] - 1)));
        int64_t a = std::min<int64_t>(static_cast<int64_t>(c), x[d] - 1);
        lo[k] = a;
        hi[k] = std::min<int64_t>(a + 1, x[d] - 1);
        frac[k] = lo[k] == hi[k] ? 0.f : c - static_cast<float>(a);
      } else if (t.linear) {
        lo[k] = hi[k] = o;  // size kept: identity
      } else {
        lo[k] = hi[k] = std::max<int64_t>(0, std::min<int64_t>(resizeNearestIndex(nm, c), x[d] - 1));
      }
    }
    t.lo.push_back(std::move(lo));
    t.hi.push_back(std::move(hi));
    t.frac.push_back(std::move(frac));
  }
  return t;
}

}  // namespace ts
