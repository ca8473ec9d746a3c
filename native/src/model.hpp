// A loaded model: the graph's tensors and nodes, its weights in device memory (one copy, shared by
// every task of the model) and one compiled kernel per node.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend.hpp"

namespace ts {

enum class TensorKind : uint8_t { Input, Weight, Activation };

struct TensorInfo {
  std::string name;
  Shape shape;
  DType dtype = DType::F32;
  size_t bytes = 0;
  TensorKind kind = TensorKind::Activation;
  /** Layout in device memory (a Layout code; layout.hpp). */
  int layout = Layout::Plain;
  /** Producing node (-1 for inputs and weights). */
  int producer = -1;
  /** Nodes reading the tensor, each once, in graph order. */
  std::vector<int> consumers;
  bool graphOutput = false;
  /** Weights: byte offset in the model's weight buffer. */
  size_t weightOffset = 0;
  /** In-place Concat (inplace.cpp): the Concat output this tensor is a slice of (-1: none), at
   *  sliceOffset bytes; on an output, how many slices it holds. */
  int sliceOf = -1;
  size_t sliceOffset = 0;
  int slices = 0;
};

struct NodeInfo {
  std::string id;
  std::string op;
  json attrs;
  std::vector<int> inputs;
  std::vector<int> outputs;
  std::shared_ptr<Kernel> kernel;
  std::shared_ptr<const void> consts;
  /** Rough cost for balancing streams: 2·MACs + bytes moved, as the graph document states. */
  double flops = 0, bytes = 0;
  /** A Concat whose inputs are slices of its output (inplace.cpp): nothing to run where they are. */
  bool inPlaceConcat = false;
  std::string where() const { return "node '" + id + "' (" + op + ")"; }
};

class Model {
 public:
  std::string name;
  int batch = 1;
  std::vector<TensorInfo> tensors;
  std::unordered_map<std::string, int> tensorIndex;
  std::vector<NodeInfo> nodes;
  std::unordered_map<std::string, int> nodeIndex;
  std::vector<int> inputs;
  std::vector<int> outputs;
  /** All weights, packed, in device memory (== hostWeights.data() on the CPU). */
  void* weights = nullptr;
  bool ownsDeviceWeights = false;
  size_t weightBytes = 0;
  /** Default input values (host), used by runs that give none. */
  std::vector<std::vector<uint8_t>> defaultInputs;
  /** Sum of activation bytes (inputs + node outputs): the no-reuse footprint. */
  size_t naiveBytes = 0;
  /** Activations kept in the device's preferred layout between ops, not plain (assignLayouts). */
  int deviceLayoutTensors = 0;
  /** Concats whose producers write into their output (assignConcatSlices). */
  int inPlaceConcats = 0;
  Backend* backend = nullptr;

  ~Model();
  const void* weightPtr(int t) const { return static_cast<const uint8_t*>(weights) + tensors[t].weightOffset; }
  int tensor(const std::string& name, const std::string& where) const;
  int node(const std::string& id, const std::string& where) const;
  /** OpSpec of a node with weight values attached (host copies, kept for merges). */
  OpSpec spec(int node) const;

  /** Host copy of the packed buffer, kept so merge stages can build fused weights later; on a
   *  backend whose memory is host memory this is also `weights` (no second copy). */
  AlignedBuffer hostWeights;
  /** A node's kernel and constants built for `threads` intra-op threads (the node's own when that
   *  is the backend's default), built on first use and kept. Throws as loadModel does. */
  std::pair<std::shared_ptr<Kernel>, std::shared_ptr<const void>> kernelFor(int node, int threads);
  std::mutex threadKernelMu;
  std::map<std::pair<int, int>, std::pair<std::shared_ptr<Kernel>, std::shared_ptr<const void>>> threadKernels;

  /** Fused kernels of merge stages, built on first use, keyed by joined node ids. */
  std::mutex mergeMu;
  std::map<std::string, std::shared_ptr<void>> merges;
};

/**
 * Parses a model document (see native/doc.ts) and the packed weight/input buffer; compiles every
 * node. Errors name the field or node.
 */
std::shared_ptr<Model> loadModel(const json& doc, const uint8_t* buf, size_t len, Backend& backend);

/**
 * Marks each Concat whose inputs are contiguous slices of its output (batch 1 along channels, plain
 * or channel-blocked) and not otherwise bound: TensorInfo::sliceOf / slices, NodeInfo::inPlaceConcat.
 * Call after layouts are assigned; returns how many. TOPSCHED_INPLACE_CONCAT=0 turns it off.
 */
int assignConcatSlices(Model& m);

}  // namespace ts
