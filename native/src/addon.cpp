// Node binding. Heavy work (parsing a model document, compiling kernels, preparing schedules,
// profiling) runs on libuv worker threads (AsyncWorker); runs execute on the executor's own stream
// threads and finish through one thread-safe function per executor. The event loop never waits.
#include <dnnl.h>
#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <vector>
#include <memory>
#include <unordered_map>

#include "executor.hpp"
#include "profiler.hpp"

namespace {

using ts::json;

struct Core {
  std::shared_ptr<ts::Executor> ex;
  std::mutex mu;
  std::unordered_map<int, std::shared_ptr<ts::Model>> models;
  std::unordered_map<int, std::shared_ptr<ts::Prepared>> prepared;
  std::unordered_map<int, std::shared_ptr<ts::StageMeter>> meters;
  int nextId = 1;
  // Worker-thread jobs (loadModel, prepare, profile) still executing: close() waits for them.
  std::mutex jobMu;
  std::condition_variable jobCv;
  int jobs = 0;
  bool closing = false;
  void jobStarted() {
    std::lock_guard<std::mutex> l(jobMu);
    jobs++;
  }
  void jobEnded() {
    std::lock_guard<std::mutex> l(jobMu);
    if (--jobs == 0) jobCv.notify_all();
  }
  bool isClosing() {
    std::lock_guard<std::mutex> l(jobMu);
    return closing;
  }
  /** Refuses new jobs, then blocks until the running ones have finished. */
  void closeAndWait() {
    std::unique_lock<std::mutex> l(jobMu);
    closing = true;
    jobCv.wait(l, [this] { return jobs == 0; });
  }
  template <typename T>
  int put(std::unordered_map<int, std::shared_ptr<T>>& m, std::shared_ptr<T> v) {
    std::lock_guard<std::mutex> l(mu);
    int id = nextId++;
    m[id] = std::move(v);
    return id;
  }
  template <typename T>
  std::shared_ptr<T> get(std::unordered_map<int, std::shared_ptr<T>>& m, int id, const char* what) {
    std::lock_guard<std::mutex> l(mu);
    auto it = m.find(id);
    if (it == m.end()) throw ts::Error(std::string("unknown ") + what + " handle " + std::to_string(id) + " (released or from another executor)");
    return it->second;
  }
};

class ExecutorWrap;

struct RunCtx {
  ts::RunState run;
  Napi::Promise::Deferred deferred;
  std::shared_ptr<Core> core;
  explicit RunCtx(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
};

void finishRun(Napi::Env env, Napi::Function, ExecutorWrap* self, RunCtx* ctx);
using Tsfn = Napi::TypedThreadSafeFunction<ExecutorWrap, RunCtx, finishRun>;

/** Runs fn on a worker thread; resolves with what `done` makes of its result on the main thread. */
template <typename R>
class Job : public Napi::AsyncWorker {
 public:
  Job(Napi::Env env, std::shared_ptr<Core> core, const char* what, std::function<R()> fn, std::function<Napi::Value(Napi::Env, R&)> done)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), core_(std::move(core)), what_(what), fn_(std::move(fn)), done_(std::move(done)) {
    core_->jobStarted();
  }
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    ts::singleThreadedHelper();
    try {
      if (core_->isClosing()) throw ts::Error(std::string(what_) + ": the executor was closed");
      result_ = fn_();
      if (core_->isClosing()) throw ts::Error(std::string(what_) + ": the executor was closed while it ran");
    } catch (const std::exception& e) {
      SetError(e.what());
    }
    core_->jobEnded();
  }
  void OnOK() override { deferred_.Resolve(done_(Env(), result_)); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Core> core_;
  const char* what_;
  std::function<R()> fn_;
  std::function<Napi::Value(Napi::Env, R&)> done_;
  R result_{};
};

Napi::Value rejected(Napi::Env env, const std::string& msg) {
  auto d = Napi::Promise::Deferred::New(env);
  d.Reject(Napi::Error::New(env, msg).Value());
  return d.Promise();
}

/** A copy of the bytes of an ArrayBuffer or a typed array view; a detached buffer is refused. */
std::vector<uint8_t> viewBytes(const Napi::Value& v, const char* what) {
  Napi::ArrayBuffer ab;
  size_t offset = 0, len = 0;
  if (v.IsArrayBuffer()) {
    ab = v.As<Napi::ArrayBuffer>();
    len = ab.ByteLength();
  } else if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    ab = ta.ArrayBuffer();
    offset = ta.ByteOffset(), len = ta.ByteLength();
  } else {
    throw ts::Error(std::string(what) + ": expected an ArrayBuffer or a typed array");
  }
  if (ab.IsDetached()) throw ts::Error(std::string(what) + ": the ArrayBuffer is detached (transferred or freed)");
  const auto* d = static_cast<const uint8_t*>(ab.Data());
  if (len > 0 && d == nullptr) throw ts::Error(std::string(what) + ": the buffer has no memory");
  if (offset + len > ab.ByteLength()) throw ts::Error(std::string(what) + ": the view runs past its buffer");
  return std::vector<uint8_t>(d + offset, d + offset + len);
}

json parseJson(const std::string& s, const char* what) {
  try {
    return json::parse(s);
  } catch (const std::exception& e) {
    throw ts::Error(std::string(what) + ": invalid JSON: " + e.what());
  }
}

class ExecutorWrap : public Napi::ObjectWrap<ExecutorWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Executor",
                       {InstanceMethod("loadModel", &ExecutorWrap::LoadModel), InstanceMethod("modelInfo", &ExecutorWrap::ModelInfo),
                        InstanceMethod("unloadModel", &ExecutorWrap::UnloadModel), InstanceMethod("prepare", &ExecutorWrap::Prepare),
                        InstanceMethod("release", &ExecutorWrap::Release), InstanceMethod("run", &ExecutorWrap::Run), InstanceMethod("profile", &ExecutorWrap::Profile),
                        InstanceMethod("createMeter", &ExecutorWrap::CreateMeter), InstanceMethod("meterStage", &ExecutorWrap::MeterStage),
                        InstanceMethod("releaseMeter", &ExecutorWrap::ReleaseMeter),
                        InstanceMethod("info", &ExecutorWrap::Info), InstanceMethod("memoryStats", &ExecutorWrap::MemoryStats),
                        InstanceMethod("trimMemory", &ExecutorWrap::TrimMemory), InstanceMethod("nowUs", &ExecutorWrap::NowUs),
                        InstanceMethod("close", &ExecutorWrap::Close)});
  }

  explicit ExecutorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ExecutorWrap>(info) {
    Napi::Env env = info.Env();
    Napi::Object o = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
    ts::BackendOptions opts;
    std::string backend = o.Has("backend") ? o.Get("backend").ToString().Utf8Value() : "cpu";
    try {
      if (o.Has("streams")) opts.streams = countOption(o.Get("streams"), "streams");
      if (o.Has("opThreads")) opts.opThreads = countOption(o.Get("opThreads"), "opThreads");
    } catch (const std::exception& e) {
      Napi::RangeError::New(env, e.what()).ThrowAsJavaScriptException();
      return;
    }
    if (o.Has("pin")) opts.pin = o.Get("pin").ToBoolean().Value();
    if (o.Has("opThreadChoice")) opts.opThreadChoice = o.Get("opThreadChoice").ToString().Utf8Value();
    core_ = std::make_shared<Core>();
    ts::singleThreadedHelper();  // JS's thread forks no OpenMP team either (native/loader.ts)
    try {
      core_->ex = std::make_shared<ts::Executor>(backend, opts);
    } catch (const std::exception& e) {
      Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
      return;
    }
    tsfn_ = Tsfn::New(env, "topsched-run", 0, 1, this);
    tsfn_.Unref(env);
  }

  ~ExecutorWrap() override { shutdown(); }

  /** An integer in 1..256, read without wrapping (2**32 + 1 is refused, not taken as 1). */
  static int countOption(const Napi::Value& v, const char* name) {
    double d = v.ToNumber().DoubleValue();
    if (!(d >= 1 && d <= 256) || d != static_cast<double>(static_cast<int>(d)))
      throw ts::Error(std::string("Executor: ") + name + " must be an integer in 1..256, got " + v.ToString().Utf8Value());
    return static_cast<int>(d);
  }

  void finished(Napi::Env env) {
    if (--inflight_ == 0) {
      if (!closed_) tsfn_.Unref(env);
      Unref();
    }
  }

 private:
  void shutdown() {
    if (closed_) return;
    closed_ = true;
    if (core_ && core_->ex) core_->ex->drain();
    // The constructor may have failed before the function existed (e.g. no such backend).
    if (static_cast<napi_threadsafe_function>(tsfn_) != nullptr) tsfn_.Release();
  }

  bool check(Napi::Env env) {
    if (closed_ || !core_ || !core_->ex) {
      Napi::Error::New(env, "executor is closed").ThrowAsJavaScriptException();
      return false;
    }
    return true;
  }

  Napi::Value LoadModel(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!check(env)) return env.Undefined();
    if (!info[0].IsString() || !(info[1].IsArrayBuffer() || info[1].IsTypedArray())) return rejected(env, "loadModel(doc: string, buffer: ArrayBuffer | Uint8Array)");
    std::string doc = info[0].As<Napi::String>().Utf8Value();
    // The bytes are copied here, on the calling thread: JS may detach, transfer or change the
    // buffer as soon as this returns, while the worker thread parses the copy.
    auto bytes = std::make_shared<std::vector<uint8_t>>();
    try {
      bytes = std::make_shared<std::vector<uint8_t>>(viewBytes(info[1], "loadModel buffer"));
    } catch (const std::exception& e) {
      return rejected(env, e.what());
    }
    auto core = core_;
    auto* job = new Job<int>(
        env, core, "loadModel",
        [core, doc, bytes]() { return core->put(core->models, core->ex->load(parseJson(doc, "model document"), bytes->data(), bytes->size())); },
        [](Napi::Env e, int& id) { return Napi::Number::New(e, id); });
    job->Queue();
    return job->promise();
  }

  Napi::Value ModelInfo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    try {
      auto m = core_->get(core_->models, info[0].ToNumber().Int32Value(), "model");
      json kernels = json::array(), slices = json::array();
      for (const auto& n : m->nodes) {
        kernels.push_back({{"node", n.id}, {"op", n.op}, {"impl", n.kernel->impl()}});
        if (!n.inPlaceConcat) continue;
        json ins = json::array();
        for (int in : n.inputs) ins.push_back({{"name", m->tensors[static_cast<size_t>(in)].name}, {"offset", m->tensors[static_cast<size_t>(in)].sliceOffset}});
        slices.push_back({{"output", m->tensors[static_cast<size_t>(n.outputs[0])].name}, {"inputs", ins}});
      }
      json j = {{"name", m->name}, {"batch", m->batch}, {"nodes", m->nodes.size()}, {"naiveBytes", m->naiveBytes}, {"weightBytes", m->weightBytes}, {"deviceLayoutTensors", m->deviceLayoutTensors}, {"concatSlices", slices}, {"kernels", kernels}};
      return Napi::String::New(env, j.dump());
    } catch (const std::exception& e) {
      Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }

  Napi::Value UnloadModel(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> l(core_->mu);
    int id = info[0].ToNumber().Int32Value();
    core_->models.erase(id);
    return info.Env().Undefined();
  }

  Napi::Value Prepare(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!check(env)) return env.Undefined();
    int modelId = info[0].ToNumber().Int32Value();
    std::string doc = info[1].ToString().Utf8Value();
    auto core = core_;
    auto* job = new Job<int>(
        env, core, "prepare",
        [core, modelId, doc]() {
          auto m = core->get(core->models, modelId, "model");
          return core->put(core->prepared, core->ex->prepare(m, parseJson(doc, "schedule document")));
        },
        [](Napi::Env e, int& id) { return Napi::Number::New(e, id); });
    job->Queue();
    return job->promise();
  }

  Napi::Value Release(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> l(core_->mu);
    core_->prepared.erase(info[0].ToNumber().Int32Value());
    return info.Env().Undefined();
  }

  /** run(doc, inputs): doc = {items: [{prepared, memory, outputs}]}; inputs[i] = null | (ArrayBufferView | null)[]. */
  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!check(env)) return env.Undefined();
    auto ctx = std::make_unique<RunCtx>(env);
    ctx->core = core_;
    try {
      json doc = parseJson(info[0].ToString().Utf8Value(), "run document");
      if (!doc.contains("items") || !doc.at("items").is_array() || doc.at("items").empty()) throw ts::Error("run document: 'items' must be a non-empty array");
      Napi::Array inputs = info.Length() > 1 && info[1].IsArray() ? info[1].As<Napi::Array>() : Napi::Array::New(env);
      const json& items = doc.at("items");
      ctx->run.streamLimit = doc.value("streams", 0);
      if (ctx->run.streamLimit < 0 || ctx->run.streamLimit > core_->ex->streams()) {
        throw ts::Error("run asks for " + std::to_string(ctx->run.streamLimit) + " streams; the executor was created with " + std::to_string(core_->ex->streams()));
      }
      for (size_t i = 0; i < items.size(); i++) {
        const json& it = items[i];
        auto p = core_->get(core_->prepared, it.value("prepared", -1), "prepared schedule");
        std::vector<std::vector<uint8_t>> blobs;
        if (i < inputs.Length() && inputs.Get(static_cast<uint32_t>(i)).IsArray()) {
          Napi::Array list = inputs.Get(static_cast<uint32_t>(i)).As<Napi::Array>();
          for (uint32_t k = 0; k < list.Length(); k++) {
            Napi::Value v = list.Get(k);
            if (v.IsTypedArray() || v.IsArrayBuffer()) {
              blobs.push_back(viewBytes(v, ("run input " + std::to_string(k) + " of item " + std::to_string(i)).c_str()));
            } else {
              blobs.emplace_back();
            }
          }
        }
        ctx->run.tasks.push_back(core_->ex->makeTask(p, ts::parseMemMode(it.value("memory", std::string("caching"))), it.value("outputs", false), std::move(blobs)));
      }
    } catch (const std::exception& e) {
      return rejected(env, e.what());
    }
    Napi::Promise promise = ctx->deferred.Promise();
    // While runs are in flight the thread-safe function keeps the loop alive and a reference
    // keeps this object from being collected (finishRun needs it).
    if (inflight_++ == 0) {
      tsfn_.Ref(env);
      Ref();
    }
    Tsfn tsfn = tsfn_;
    RunCtx* raw = ctx.get();
    ctx->run.onDone = [tsfn, raw](ts::RunState*) { tsfn.NonBlockingCall(raw); };
    core_->ex->submit(&ctx.release()->run);
    return promise;
  }

  Napi::Value Profile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!check(env)) return env.Undefined();
    int preparedId = info[0].ToNumber().Int32Value();
    std::string doc = info[1].ToString().Utf8Value();
    auto core = core_;
    auto* job = new Job<std::string>(
        env, core, "profile",
        [core, preparedId, doc]() {
          auto p = core->get(core->prepared, preparedId, "prepared schedule");
          return ts::profile(*core->ex, p, parseJson(doc, "profile options")).dump();
        },
        [](Napi::Env e, std::string& s) { return Napi::String::New(e, s); });
    job->Queue();
    return job->promise();
  }

  // The stage meter (measured cost model) is synchronous on purpose: a schedule search asks for one
  // stage's cost at a time and cannot await. It blocks the event loop, as IOS's search blocks its process.
  bool checkIdle(Napi::Env env, const char* what) {
    if (!check(env)) return false;
    if (inflight_ == 0) return true;
    Napi::Error::New(env, std::string(what) + "(): " + std::to_string(inflight_) + " run(s) in flight; a meter needs an idle executor").ThrowAsJavaScriptException();
    return false;
  }

  Napi::Value CreateMeter(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!checkIdle(env, "createMeter")) return env.Undefined();
    try {
      auto m = core_->get(core_->models, info[0].ToNumber().Int32Value(), "model");
      return Napi::Number::New(env, core_->put(core_->meters, std::make_shared<ts::StageMeter>(*core_->ex, m)));
    } catch (const std::exception& e) {
      Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }

  Napi::Value MeterStage(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!checkIdle(env, "meterStage")) return env.Undefined();
    try {
      auto meter = core_->get(core_->meters, info[0].ToNumber().Int32Value(), "meter");
      json stage = parseJson(info[1].ToString().Utf8Value(), "stage");
      json opts = info.Length() > 2 && info[2].IsString() ? parseJson(info[2].ToString().Utf8Value(), "meter options") : json::object();
      return Napi::String::New(env, meter->measure(stage, opts).dump());
    } catch (const std::exception& e) {
      Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }

  Napi::Value ReleaseMeter(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> l(core_->mu);
    core_->meters.erase(info[0].ToNumber().Int32Value());
    return info.Env().Undefined();
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!check(env)) return env.Undefined();
    json j = core_->ex->backend().info();
    j["kernelsCached"] = core_->ex->backend().kernelCount();
    return Napi::String::New(env, j.dump());
  }

  /** µs since the executor's epoch, on the clock of every report timestamp (wall-clock envs map completions with it). */
  Napi::Value NowUs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!check(env)) return env.Undefined();
    return Napi::Number::New(env, static_cast<double>(ts::nowNs() - core_->ex->epochNs()) / 1e3);
  }

  Napi::Value MemoryStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!check(env)) return env.Undefined();
    auto& ex = *core_->ex;
    if (info.Length() > 0 && info[0].ToBoolean().Value()) ex.caching().resetPeaks();
    auto s = ex.caching().stats();
    json j = {{"arenaPoolBytes", ex.arenas().reservedBytes()},
              {"cachingReservedBytes", s.reserved},
              {"cachingInUseBytes", s.inUse},
              {"cachingPeakReservedBytes", s.peakReserved},
              {"cachingPeakInUseBytes", s.peakInUse}};
    return Napi::String::New(env, j.dump());
  }

  Napi::Value TrimMemory(const Napi::CallbackInfo& info) {
    if (core_ && core_->ex) core_->ex->arenas().trim(), core_->ex->caching().trim();
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (inflight_ > 0) {
      Napi::Error::New(info.Env(), "close(): " + std::to_string(inflight_) + " run(s) still in flight; await them first").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    // Loads, preparations and profiles on worker threads finish first (they then reject).
    if (core_) core_->closeAndWait();
    shutdown();
    {
      std::lock_guard<std::mutex> l(core_->mu);
      core_->meters.clear();
      core_->prepared.clear();
      core_->models.clear();
    }
    // The streams end here, not at garbage collection: each stream thread's OpenMP team goes with
    // it, so it neither holds memory nor counts against libgomp's spin budget (native/loader.ts).
    if (core_) core_->ex.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<Core> core_;
  Tsfn tsfn_;
  int inflight_ = 0;
  bool closed_ = false;
};

void finishRun(Napi::Env env, Napi::Function, ExecutorWrap* self, RunCtx* raw) {
  std::unique_ptr<RunCtx> ctx(raw);
  if (!env) return;  // environment shutting down
  self->finished(env);
  std::string firstError;
  for (const auto& t : ctx->run.tasks)
    if (t->failed.load() && firstError.empty()) firstError = "task " + std::to_string(t->index) + " (" + t->prep->model->name + "): " + t->error;
  if (!firstError.empty()) {
    Napi::Error err = Napi::Error::New(env, firstError);
    err.Set("report", Napi::String::New(env, ts::reportJson(*ctx->core->ex, ctx->run, true)));
    ctx->deferred.Reject(err.Value());
    return;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("report", Napi::String::New(env, ts::reportJson(*ctx->core->ex, ctx->run, false)));
  std::vector<double> timeline = ts::reportTimeline(*ctx->core->ex, ctx->run);
  auto tl = Napi::Float64Array::New(env, timeline.size());
  if (!timeline.empty()) std::memcpy(tl.Data(), timeline.data(), timeline.size() * sizeof(double));
  out.Set("timeline", tl);
  Napi::Array outputs = Napi::Array::New(env, ctx->run.tasks.size());
  for (size_t i = 0; i < ctx->run.tasks.size(); i++) {
    const auto& t = *ctx->run.tasks[i];
    Napi::Array list = Napi::Array::New(env, t.outputs.size());
    for (size_t k = 0; k < t.outputs.size(); k++) {
      auto ab = Napi::ArrayBuffer::New(env, t.outputs[k].size());
      if (!t.outputs[k].empty()) std::memcpy(ab.Data(), t.outputs[k].data(), t.outputs[k].size());
      list.Set(static_cast<uint32_t>(k), ab);
    }
    outputs.Set(static_cast<uint32_t>(i), list);
  }
  out.Set("outputs", outputs);
  ctx->deferred.Resolve(out);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Executor", ExecutorWrap::Init(env));
  const dnnl_version_t* v = dnnl_version();
  exports.Set("dnnlVersion", Napi::String::New(env, std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch)));
#ifdef TOPSCHED_WITH_CUDA
  exports.Set("cudaBuilt", Napi::Boolean::New(env, true));
#else
  exports.Set("cudaBuilt", Napi::Boolean::New(env, false));
#endif
  exports.Set("abi", Napi::Number::New(env, 1));
  return exports;
}

}  // namespace

NODE_API_MODULE(topsched_native, Init)
