#include "common.hpp"

#include <cstdlib>
#include <sstream>

namespace ts {

DType parseDType(const std::string& s, const std::string& where) {
  if (s == "float32") return DType::F32;
  if (s == "int64") return DType::I64;
  throw Error(where + ": unsupported dtype '" + s + "' (float32, int64)");
}

std::string shapeStr(const Shape& s) {
  std::ostringstream o;
  o << '[';
  for (size_t i = 0; i < s.size(); i++) o << (i ? "," : "") << s[i];
  o << ']';
  return o.str();
}

static const json* find(const json& attrs, const char* name) {
  if (!attrs.is_object()) return nullptr;
  auto it = attrs.find(name);
  return it == attrs.end() ? nullptr : &*it;
}

int64_t attrInt(const json& attrs, const char* name, int64_t dflt, const std::string& where) {
  const json* v = find(attrs, name);
  if (!v) return dflt;
  if (v->is_boolean()) return v->get<bool>() ? 1 : 0;
  if (!v->is_number()) throw Error(where + ": attribute '" + name + "' must be a number, got " + v->dump());
  return static_cast<int64_t>(v->get<double>());
}

double attrFloat(const json& attrs, const char* name, double dflt, const std::string& where) {
  const json* v = find(attrs, name);
  if (!v) return dflt;
  if (!v->is_number()) throw Error(where + ": attribute '" + name + "' must be a number, got " + v->dump());
  return v->get<double>();
}

std::vector<int64_t> attrInts(const json& attrs, const char* name, const std::vector<int64_t>& dflt, const std::string& where) {
  const json* v = find(attrs, name);
  if (!v) return dflt;
  if (!v->is_array()) throw Error(where + ": attribute '" + name + "' must be a list of numbers, got " + v->dump());
  std::vector<int64_t> out;
  for (const auto& x : *v) {
    if (!x.is_number()) throw Error(where + ": attribute '" + name + "' must be a list of numbers, got " + v->dump());
    out.push_back(static_cast<int64_t>(x.get<double>()));
  }
  return out;
}

std::vector<double> attrFloats(const json& attrs, const char* name, const std::vector<double>& dflt, const std::string& where) {
  const json* v = find(attrs, name);
  if (!v) return dflt;
  if (!v->is_array()) throw Error(where + ": attribute '" + name + "' must be a list of numbers, got " + v->dump());
  std::vector<double> out;
  for (const auto& x : *v) {
    if (!x.is_number()) throw Error(where + ": attribute '" + name + "' must be a list of numbers, got " + v->dump());
    out.push_back(x.get<double>());
  }
  return out;
}

std::string attrStr(const json& attrs, const char* name, const std::string& dflt, const std::string& where) {
  const json* v = find(attrs, name);
  if (!v) return dflt;
  if (!v->is_string()) throw Error(where + ": attribute '" + name + "' must be a string, got " + v->dump());
  return v->get<std::string>();
}

double envNumber(const char* name, double dflt, double lo, double hi, bool integer) {
  const char* v = std::getenv(name);
  if (!v || !*v) return dflt;
  char* end = nullptr;
  const double d = std::strtod(v, &end);
  if (!end || *end != 0 || !(d >= lo && d <= hi) || (integer && d != static_cast<double>(static_cast<int64_t>(d)))) {
    std::ostringstream o;
    o << name << " must be " << (integer ? "an integer" : "a number") << " in " << lo << ".." << hi << ", got '" << v << "'";
    throw Error(o.str());
  }
  return d;
}

}  // namespace ts
