#include "model.hpp"

#include "epilogue.hpp"
#include "layout.hpp"

namespace ts {

Model::~Model() {
  if (ownsDeviceWeights && weights && backend) backend->dealloc(weights, weightBytes);
}

int Model::tensor(const std::string& name, const std::string& where) const {
  auto it = tensorIndex.find(name);
  if (it == tensorIndex.end()) throw Error(where + ": unknown tensor '" + name + "' in model '" + this->name + "'");
  return it->second;
}

int Model::node(const std::string& id, const std::string& where) const {
  auto it = nodeIndex.find(id);
  if (it == nodeIndex.end()) throw Error(where + ": '" + id + "' is not a node of model '" + name + "'");
  return it->second;
}

OpSpec Model::spec(int n) const {
  const NodeInfo& node = nodes[n];
  OpSpec s;
  s.id = node.id;
  s.op = node.op;
  s.attrs = node.attrs;
  for (int t : node.inputs) {
    const TensorInfo& ti = tensors[t];
    s.ins.push_back({ti.shape, ti.dtype, ti.kind == TensorKind::Weight ? static_cast<const uint8_t*>(hostWeights.data()) + ti.weightOffset : nullptr});
    s.inLayout.push_back(ti.layout);
  }
  for (int t : node.outputs) {
    s.outShapes.push_back(tensors[t].shape);
    s.outDtypes.push_back(tensors[t].dtype);
    s.outLayout.push_back(tensors[t].layout);
  }
  return s;
}

std::pair<std::shared_ptr<Kernel>, std::shared_ptr<const void>> Model::kernelFor(int node, int threads) {
  const NodeInfo& n = nodes[static_cast<size_t>(node)];
  if (threads <= 0 || threads == backend->kernelThreads() || backend->kernelThreads() == 0) return {n.kernel, n.consts};
  std::lock_guard<std::mutex> l(threadKernelMu);
  auto it = threadKernels.find({node, threads});
  if (it != threadKernels.end()) return it->second;
  OpSpec s = spec(node);
  s.threads = threads;
  auto k = compileNode(*backend, s);
  auto c = k->prepare(s);
  return threadKernels[{node, threads}] = {k, c};
}

static const json& field(const json& obj, const char* key, const std::string& where) {
  if (!obj.is_object() || !obj.contains(key)) throw Error(where + ": missing field '" + key + "'");
  return obj.at(key);
}

static Shape parseShape(const json& v, const std::string& where) {
  if (!v.is_array()) throw Error(where + ": shape must be an array, got " + v.dump());
  Shape s;
  for (const auto& d : v) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0) throw Error(where + ": bad dimension " + d.dump() + " in shape " + v.dump());
    s.push_back(d.get<int64_t>());
  }
  return s;
}

/** Offset of a named blob in the buffer, checked against its size. */
static size_t blobOffset(const json& table, const std::string& name, size_t bytes, size_t len, const std::string& where) {
  if (!table.is_object() || !table.contains(name)) throw Error(where + ": no offset for '" + name + "' in the buffer table");
  const json& v = table.at(name);
  if (!v.is_number_unsigned() && !v.is_number_integer()) throw Error(where + ": offset of '" + name + "' must be an integer");
  int64_t off = v.get<int64_t>();
  if (off < 0 || static_cast<size_t>(off) + bytes > len || off % 8 != 0) {
    throw Error(where + ": '" + name + "' at offset " + std::to_string(off) + " (+" + std::to_string(bytes) + " bytes) lies outside the " + std::to_string(len) +
                "-byte buffer or is not 8-byte aligned");
  }
  return static_cast<size_t>(off);
}

std::shared_ptr<Model> loadModel(const json& doc, const uint8_t* buf, size_t len, Backend& backend) {
  const std::string where = "model document";
  if (!doc.is_object() || doc.value("format", "") != "topsched.native.model/1") {
    throw Error(where + ": expected format 'topsched.native.model/1'");
  }
  const json& g = field(doc, "graph", where);
  auto m = std::make_shared<Model>();
  m->name = field(g, "name", where).get<std::string>();
  m->batch = g.value("batch", 1);
  const std::string gw = "model '" + m->name + "'";
  auto addTensor = [&](TensorInfo t) {
    if (m->tensorIndex.count(t.name)) throw Error(gw + ": tensor '" + t.name + "' is defined twice");
    t.bytes = static_cast<size_t>(numel(t.shape)) * dtypeSize(t.dtype);
    int idx = static_cast<int>(m->tensors.size());
    m->tensorIndex[t.name] = idx;
    m->tensors.push_back(std::move(t));
    return idx;
  };
  const json& weightTable = doc.contains("weights") ? doc.at("weights") : json::object();
  const json& inputTable = doc.contains("inputs") ? doc.at("inputs") : json::object();
  if (len) std::memcpy(m->hostWeights.reserve(len), buf, len);
  for (const auto& v : field(g, "inputs", gw)) {
    TensorInfo t;
    t.name = field(v, "name", gw).get<std::string>();
    t.shape = parseShape(field(v, "shape", gw), gw + " input '" + t.name + "'");
    t.dtype = parseDType(v.value("dtype", "float32"), gw + " input '" + t.name + "'");
    t.kind = TensorKind::Input;
    int idx = addTensor(std::move(t));
    m->inputs.push_back(idx);
    const TensorInfo& ti = m->tensors[idx];
    if (inputTable.contains(ti.name)) {
      size_t off = blobOffset(inputTable, ti.name, ti.bytes, len, gw + " default input");
      m->defaultInputs.emplace_back(buf + off, buf + off + ti.bytes);
    } else {
      m->defaultInputs.emplace_back(ti.bytes, 0);
    }
  }
  for (const auto& v : field(g, "initializers", gw)) {
    TensorInfo t;
    t.name = field(v, "name", gw).get<std::string>();
    t.shape = parseShape(field(v, "shape", gw), gw + " initializer '" + t.name + "'");
    t.dtype = parseDType(v.value("dtype", "float32"), gw + " initializer '" + t.name + "'");
    t.kind = TensorKind::Weight;
    t.bytes = static_cast<size_t>(numel(t.shape)) * dtypeSize(t.dtype);
    t.weightOffset = blobOffset(weightTable, t.name, t.bytes, len, gw + " weights");
    addTensor(std::move(t));
  }
  for (const auto& v : field(g, "nodes", gw)) {
    NodeInfo n;
    n.id = field(v, "id", gw).get<std::string>();
    n.op = field(v, "op", gw).get<std::string>();
    n.attrs = v.contains("attrs") ? v.at("attrs") : json::object();
    n.flops = v.value("flops", 0.0);
    n.bytes = v.value("bytes", 0.0);
    const std::string nw = n.where();
    if (m->nodeIndex.count(n.id)) throw Error(gw + ": duplicate node id '" + n.id + "'");
    int ni = static_cast<int>(m->nodes.size());
    for (const auto& name : field(v, "inputs", nw)) {
      std::string tn = name.get<std::string>();
      auto it = m->tensorIndex.find(tn);
      if (it == m->tensorIndex.end()) throw Error(nw + ": reads tensor '" + tn + "' that no input, initializer or earlier node defines");
      n.inputs.push_back(it->second);
    }
    const json& outs = field(v, "outputs", nw);
    const json& shapes = field(v, "outShapes", nw);
    if (!outs.is_array() || !shapes.is_array() || outs.size() != shapes.size()) throw Error(nw + ": outputs and outShapes differ in length");
    for (size_t k = 0; k < outs.size(); k++) {
      TensorInfo t;
      t.name = outs[k].get<std::string>();
      t.shape = parseShape(shapes[k], nw + " output " + std::to_string(k));
      std::string dt = v.contains("outDtypes") && k < v.at("outDtypes").size() ? v.at("outDtypes")[k].get<std::string>() : "float32";
      t.dtype = parseDType(dt, nw);
      t.kind = TensorKind::Activation;
      t.producer = ni;
      n.outputs.push_back(addTensor(std::move(t)));
    }
    for (int t : n.inputs) {
      auto& cons = m->tensors[t].consumers;
      if (cons.empty() || cons.back() != ni) cons.push_back(ni);
    }
    m->nodeIndex[n.id] = ni;
    m->nodes.push_back(std::move(n));
  }
  for (const auto& v : field(g, "outputs", gw)) {
    std::string name = field(v, "name", gw).get<std::string>();
    int t = m->tensor(name, gw + " output");
    if (m->tensors[t].kind == TensorKind::Weight) throw Error(gw + ": output '" + name + "' is an initializer");
    m->tensors[t].graphOutput = true;
    m->outputs.push_back(t);
  }
  for (const auto& t : m->tensors)
    if (t.kind != TensorKind::Weight) m->naiveBytes += t.bytes;
  // Every node compiles now, so an unsupported op or shape fails the load, naming the node.
  m->backend = &backend;
  m->deviceLayoutTensors = assignLayouts(*m, backend);
  m->inPlaceConcats = assignConcatSlices(*m);
  for (size_t i = 0; i < m->nodes.size(); i++) {
    OpSpec s = m->spec(static_cast<int>(i));
    m->nodes[i].kernel = compileNode(backend, s);
    m->nodes[i].consts = m->nodes[i].kernel->prepare(s);
  }
  m->weightBytes = len;
  if (backend.hostMemory()) {
    m->weights = m->hostWeights.reserve(len ? len : 64);
  } else {
    m->weights = backend.alloc(len ? len : 64);
    m->ownsDeviceWeights = true;
    if (len) backend.toDevice(m->weights, buf, len);
  }
  return m;
}

}  // namespace ts
