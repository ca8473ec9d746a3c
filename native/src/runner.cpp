// Standalone runner: the executor core without Node (the GPU machine has none). Reads a bundle
// written by native/doc.ts writeRunnerBundle (bundle.json + weights.bin), runs each schedule and
// prints timings as JSON on stdout.
//
//   runner bundle.json weights.bin [--schedule NAME] [--backend cpu|cuda] [--streams S]
//          [--op-threads T] [--tasks K] [--runs R] [--warmup W] [--memory caching|planned|trace] [--pin]
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>

#include <unistd.h>

#include "executor.hpp"

namespace {

using ts::json;

std::vector<uint8_t> readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw ts::Error("cannot open '" + path + "'");
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

json summary(std::vector<double> v) {
  if (v.empty()) return nullptr;
  std::sort(v.begin(), v.end());
  double mean = 0, var = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  for (double x : v) var += (x - mean) * (x - mean);
  double median = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  return {{"mean", mean}, {"median", median}, {"min", v.front()}, {"max", v.back()}, {"std", std::sqrt(var / static_cast<double>(v.size()))}, {"n", v.size()}};
}

int usage(const char* msg) {
  std::cerr << "runner: " << msg << "\nusage: runner bundle.json weights.bin [--schedule NAME] [--backend cpu|cuda] [--streams S] [--op-threads T] [--tasks K]"
            << " [--runs R] [--warmup W] [--memory caching|planned|trace] [--pin]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // libgomp reads its wait policy when it is loaded, before main: set the addon's default spin
  // (native/loader.ts says why; OMP_SPIN_COUNT there) and start again so it takes effect.
  if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT")) {
    setenv("GOMP_SPINCOUNT", "20000", 1);
    execv("/proc/self/exe", argv);
  }
  ts::singleThreadedHelper();  // the main thread loads; only the streams fork OpenMP teams
  if (argc < 3) return usage("needs a bundle and a weights file");
  std::string bundlePath = argv[1], weightsPath = argv[2], only, backend = "cpu", memory = "caching";
  ts::BackendOptions opts;
  int tasks = 1, runs = 20, warmup = 3;
  for (int i = 3; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw ts::Error("option " + a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--schedule") only = next();
      else if (a == "--backend") backend = next();
      else if (a == "--streams") opts.streams = std::stoi(next());
      else if (a == "--op-threads") opts.opThreads = std::stoi(next());
      else if (a == "--tasks") tasks = std::stoi(next());
      else if (a == "--runs") runs = std::stoi(next());
      else if (a == "--warmup") warmup = std::stoi(next());
      else if (a == "--memory") memory = next();
      else if (a == "--pin") opts.pin = true;
      else return usage(("unknown option " + a).c_str());
    } catch (const std::exception& e) {
      return usage(e.what());
    }
  }
  try {
    json bundle = json::parse(readFile(bundlePath));
    if (bundle.value("format", "") != "topsched.native.bundle/1") throw ts::Error(bundlePath + ": not a topsched runner bundle (format 'topsched.native.bundle/1')");
    std::vector<uint8_t> weights = readFile(weightsPath);
    ts::MemMode mode = ts::parseMemMode(memory);
    ts::Executor ex(backend, opts);
    auto model = ex.load(bundle.at("model"), weights.data(), weights.size());
    json results = json::array();
    for (const auto& s : bundle.at("schedules")) {
      std::string name = s.value("name", "");
      if (!only.empty() && name != only) continue;
      json doc = {{"schedule", s.at("schedule")}};
      if (s.contains("plan") && !s.at("plan").is_null()) doc["plan"] = s.at("plan");
      auto prepared = ex.prepare(model, doc);
      std::vector<double> lat, wall;
      std::vector<std::vector<double>> stages(prepared->stages.size());
      std::unordered_map<std::string, std::vector<double>> ops;
      json last;
      // Warm-up also spans the runs in which ops measure their thread count (ThreadTrial, at most 16).
      int warm = 0;
      bool measuring = true;
      for (int r = 0; static_cast<int>(wall.size()) < runs; r++) {
        ts::RunState run;
        for (int k = 0; k < tasks; k++) run.tasks.push_back(ex.makeTask(prepared, mode, false, {}));
        ex.runBlocking(run);
        json rep = ts::buildReport(ex, run);
        bool measured = false;
        for (const auto& t : rep.at("tasks")) {
          if (t.contains("error")) throw ts::Error("task failed: " + t.at("error").get<std::string>());
          measured = measured || t.value("measuringThreads", false);
        }
        if (warm < warmup || (measuring && r < warmup + 16)) {
          warm++;
          measuring = measured;
          continue;
        }
        wall.push_back(rep.at("wallMs").get<double>());
        for (const auto& t : rep.at("tasks")) {
          lat.push_back(t.at("latencyMs").get<double>());
          const auto& st = t.at("stages");
          for (size_t i = 0; i < st.size(); i++) stages[i].push_back((st[i].at("endUs").get<double>() - st[i].at("startUs").get<double>()) / 1000.0);
        }
        for (const auto& o : rep.at("ops")) ops[o.at("node").get<std::string>()].push_back((o.at("endUs").get<double>() - o.at("startUs").get<double>()) / 1000.0);
        last = std::move(rep);
      }
      json stageMs = json::array(), opMs = json::object();
      for (auto& v : stages) stageMs.push_back(summary(v).value("median", 0.0));
      for (auto& [k, v] : ops) opMs[k] = summary(v).value("median", 0.0);
      const json& t0 = last.at("tasks")[0];
      results.push_back({{"schedule", name},
                         {"memory", memory},
                         {"warmupRuns", warm},
                         {"tasks", tasks},
                         {"stages", prepared->stages.size()},
                         {"latencyMs", summary(lat)},
                         {"wallMs", summary(wall)},
                         {"stageMedianMs", stageMs},
                         {"opMedianMs", opMs},
                         {"arenaBytes", t0.at("arenaBytes")},
                         {"loadBytes", t0.value("loadBytes", json(nullptr))},
                         {"naiveBytes", t0.at("naiveBytes")},
                         {"memoryStats", last.at("memory")}});
    }
    if (!only.empty() && results.empty()) throw ts::Error("no schedule named '" + only + "' in " + bundlePath);
    json out = {{"device", ex.backend().info()}, {"model", model->name}, {"batch", model->batch}, {"runs", runs}, {"warmup", warmup}, {"results", results}};
    std::cout << out.dump(1) << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "runner: " << e.what() << std::endl;
    return 1;
  }
}
