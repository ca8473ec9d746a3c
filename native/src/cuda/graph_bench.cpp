// cuda-bench: the CUDA schedule runner (cuda_runner.hpp) from the command line, for GPU machines
// without Node. Reads the same bundle as the standalone runner (native/doc.ts writeRunnerBundle:
// bundle.json + weights.bin) and prints one JSON document: the device, then per schedule the
// asynchronous run's timings (host wall, GPU span, H2D / compute / D2H, per-op event times), with
// or without CUDA-graph replay.
//
//   cuda-bench bundle.json weights.bin [--schedule NAME] [--streams S] [--iterations N] [--warmup W]
//              [--cuda-graph] [--no-timing] [--staging pinned|pageable] [--outputs DIR] [--reference DIR]
//              [--executor caching|planned|trace [--tasks K]]
//
// --executor runs the schedule through the generic executor instead (K tasks submitted at once,
// each op finishing before its host bookkeeping); the outputs are task 0's, and every other task's
// must be identical ("tasksAgree").
//
// --outputs DIR writes each schedule's graph outputs as DIR/<schedule>.json ({output: {dtype, shape,
// offset, bytes}}) + DIR/<schedule>.bin; --reference DIR compares with files of that format (made
// on a machine with onnxruntime or the CPU backend, same bundle and seed) and reports
// maxRelDiff = max|a − b| / max(max|b|, 1e-6) per output, failing above 1e-3.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>


#include "cuda_runner.hpp"

namespace {

using ts::json;

std::vector<uint8_t> readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw ts::Error("cannot open '" + path + "'");
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

/** Writes a file atomically: a temporary beside it, then rename. */
void writeAtomic(const std::string& path, const void* data, size_t n) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) throw ts::Error("cannot write '" + tmp + "'");
    f.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
    if (!f) throw ts::Error("writing '" + tmp + "' failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw ts::Error("cannot rename '" + tmp + "' to '" + path + "'");
}

/** The outputs' table: name → {dtype, shape, offset, bytes} in the .bin file. */
json outputTable(const ts::Model& m) {
  json t = json::object();
  size_t off = 0;
  for (int o : m.outputs) {
    const ts::TensorInfo& ti = m.tensors[static_cast<size_t>(o)];
    t[ti.name] = {{"dtype", ts::dtypeName(ti.dtype)}, {"shape", ti.shape}, {"offset", off}, {"bytes", ti.bytes}};
    off += ti.bytes;
  }
  return t;
}

/** max|a − b| / max(max|b|, 1e-6) over float32 or int64 values. */
double relDiff(const uint8_t* a, const uint8_t* b, size_t bytes, bool i64) {
  double num = 0, den = 0;
  size_t n = bytes / (i64 ? 8 : 4);
  for (size_t i = 0; i < n; i++) {
    double x, y;
    if (i64) {
      int64_t u, v;
      std::memcpy(&u, a + 8 * i, 8), std::memcpy(&v, b + 8 * i, 8);
      x = static_cast<double>(u), y = static_cast<double>(v);
    } else {
      float u, v;
      std::memcpy(&u, a + 4 * i, 4), std::memcpy(&v, b + 4 * i, 4);
      x = u, y = v;
    }
    if (!std::isfinite(x) || !std::isfinite(y)) return INFINITY;
    num = std::max(num, std::fabs(x - y)), den = std::max(den, std::fabs(y));
  }
  return num / std::max(den, 1e-6);
}

/** One run of K tasks through the executor; returns its report summary, fills task 0's outputs. */
json runExecutor(ts::Executor& ex, const std::shared_ptr<ts::Prepared>& p, const std::string& memory, int tasks, std::vector<std::vector<uint8_t>>& outs) {
  ts::RunState run;
  for (int k = 0; k < tasks; k++) run.tasks.push_back(ex.makeTask(p, ts::parseMemMode(memory), true, {}));
  ex.runBlocking(run);
  for (const auto& t : run.tasks)
    if (t->failed.load()) throw ts::Error("task " + std::to_string(t->index) + " failed: " + t->error);
  outs = run.tasks[0]->outputs;
  bool agree = true;
  for (const auto& t : run.tasks) agree = agree && t->outputs == outs;
  json rep = ts::buildReport(ex, run);
  json lat = json::array();
  for (const auto& t : rep.at("tasks")) lat.push_back(t.at("latencyMs"));
  return {{"path", "executor"}, {"memory", memory}, {"tasks", tasks}, {"tasksAgree", agree}, {"wallMs", rep.at("wallMs")}, {"latencyMs", lat}, {"ops", rep.at("ops")}};
}

int usage(const char* msg) {
  std::cerr << "cuda-bench: " << msg
            << "\nusage: cuda-bench bundle.json weights.bin [--schedule NAME] [--streams S] [--iterations N] [--warmup W] [--cuda-graph] [--no-timing]"
               " [--staging pinned|pageable] [--outputs DIR] [--reference DIR] [--executor caching|planned|trace [--tasks K]]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage("needs a bundle and a weights file");
  std::string bundlePath = argv[1], weightsPath = argv[2], only, outDir, refDir, executorMode;
  int tasks = 1;
  ts::BackendOptions opts;
  json ro = json::object();
  for (int i = 3; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw ts::Error("option " + a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--schedule") only = next();
      else if (a == "--streams") opts.streams = std::stoi(next());
      else if (a == "--iterations") ro["iterations"] = std::stoi(next());
      else if (a == "--warmup") ro["warmup"] = std::stoi(next());
      else if (a == "--cuda-graph") ro["cudaGraph"] = true;
      else if (a == "--no-timing") ro["timing"] = false;
      else if (a == "--staging") ro["staging"] = next();
      else if (a == "--outputs") outDir = next();
      else if (a == "--reference") refDir = next();
      else if (a == "--executor") executorMode = next();
      else if (a == "--tasks") tasks = std::stoi(next());
      else return usage(("unknown option " + a).c_str());
    } catch (const std::exception& e) {
      return usage(e.what());
    }
  }
  try {
    json bundle = json::parse(readFile(bundlePath));
    if (bundle.value("format", "") != "topsched.native.bundle/1") throw ts::Error(bundlePath + ": not a topsched runner bundle (format 'topsched.native.bundle/1')");
    std::vector<uint8_t> weights = readFile(weightsPath);
    ts::Executor ex("cuda", opts);
    auto model = ex.load(bundle.at("model"), weights.data(), weights.size());
    json results = json::array();
    bool failed = false;
    for (const auto& s : bundle.at("schedules")) {
      std::string name = s.value("name", "");
      if (!only.empty() && name != only) continue;
      json doc = {{"schedule", s.at("schedule")}};
      if (s.contains("plan") && !s.at("plan").is_null()) doc["plan"] = s.at("plan");
      auto prepared = ex.prepare(model, doc);
      json o = ro;
      o["outputs"] = !outDir.empty() || !refDir.empty();
      std::vector<std::vector<uint8_t>> outs;
      json r = executorMode.empty() ? ts::cuda::runCudaSchedule(ex, prepared, o, &outs) : runExecutor(ex, prepared, executorMode, tasks, outs);
      if (r.contains("tasksAgree") && !r.at("tasksAgree").get<bool>()) failed = true;
      r["schedule"] = name;
      std::vector<uint8_t> blob;
      for (const auto& v : outs) blob.insert(blob.end(), v.begin(), v.end());
      if (!outDir.empty()) {
        std::string t = outputTable(*model).dump(1);
        writeAtomic(outDir + "/" + name + ".bin", blob.data(), blob.size());
        writeAtomic(outDir + "/" + name + ".json", t.data(), t.size());
      }
      if (!refDir.empty()) {
        json table = json::parse(readFile(refDir + "/" + name + ".json"));
        std::vector<uint8_t> ref = readFile(refDir + "/" + name + ".bin");
        json mine = outputTable(*model), diffs = json::object();
        for (auto it = mine.begin(); it != mine.end(); ++it) {
          if (!table.contains(it.key())) throw ts::Error("reference has no output '" + it.key() + "'");
          const json& rt = table.at(it.key());
          size_t bytes = it.value().at("bytes").get<size_t>(), ro2 = rt.at("offset").get<size_t>();
          if (rt.at("bytes").get<size_t>() != bytes || ro2 + bytes > ref.size()) throw ts::Error("reference output '" + it.key() + "' has the wrong size");
          double d = relDiff(blob.data() + it.value().at("offset").get<size_t>(), ref.data() + ro2, bytes, it.value().at("dtype") == "int64");
          diffs[it.key()] = d;
          if (!(d <= 1e-3)) failed = true;
        }
        r["maxRelDiff"] = diffs;
      }
      results.push_back(std::move(r));
    }
    if (!only.empty() && results.empty()) throw ts::Error("no schedule named '" + only + "' in " + bundlePath);
    std::cout << json({{"device", ex.backend().info()}, {"results", results}}).dump(1) << std::endl;
    if (failed) std::cerr << "cuda-bench: outputs differ from the reference by more than 1e-3 (see maxRelDiff)" << std::endl;
    return failed ? 3 : 0;
  } catch (const std::exception& e) {
    std::cerr << "cuda-bench: " << e.what() << std::endl;
    return 1;
  }
}
