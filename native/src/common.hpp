// Shared basics of the native executor: element types, shapes, errors, clock, aligned buffers.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ts {

using json = nlohmann::json;
using Shape = std::vector<int64_t>;

enum class DType : uint8_t { F32, I64 };

inline size_t dtypeSize(DType d) { return d == DType::I64 ? 8 : 4; }
inline const char* dtypeName(DType d) { return d == DType::I64 ? "int64" : "float32"; }
DType parseDType(const std::string& s, const std::string& where);

inline int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shapeStr(const Shape& s);

/** Every error the executor reports: the message names the place (node, tensor, field). */
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/** Monotonic nanoseconds; every timestamp in a report is relative to an executor's epoch. */
inline int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/** 64-byte aligned host memory (oneDNN and AVX loads prefer it); grows, never shrinks. */
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t bytes) { reserve(bytes); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  ~AlignedBuffer() { std::free(p_); }
  /** Ensures capacity; contents are not preserved when it grows. */
  void* reserve(size_t bytes) {
    if (bytes <= n_) return p_;
    std::free(p_);
    size_t rounded = (bytes + 63) / 64 * 64;
    p_ = std::aligned_alloc(64, rounded ? rounded : 64);
    if (!p_) {
      n_ = 0;
      throw std::bad_alloc();
    }
    n_ = rounded;
    return p_;
  }
  void* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  void* p_ = nullptr;
  size_t n_ = 0;
};

/** Reads an int/float/list attribute of a node with a default; errors name the node. */
int64_t attrInt(const json& attrs, const char* name, int64_t dflt, const std::string& where);
double attrFloat(const json& attrs, const char* name, double dflt, const std::string& where);
std::vector<int64_t> attrInts(const json& attrs, const char* name, const std::vector<int64_t>& dflt, const std::string& where);
std::vector<double> attrFloats(const json& attrs, const char* name, const std::vector<double>& dflt, const std::string& where);
std::string attrStr(const json& attrs, const char* name, const std::string& dflt, const std::string& where);

/** An environment variable read as a number in [lo, hi]; `dflt` when unset or empty; anything else
 *  is an Error naming the variable and the value (a typo must not silently keep the default). */
double envNumber(const char* name, double dflt, double lo, double hi, bool integer);

}  // namespace ts
