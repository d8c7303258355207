// The simulator's scheduling, in brief (the header has the picture):
//
// Every serving core is a host thread, but only the thread holding the baton
// runs; the others sleep on their own condition variable. The machine and the
// EpcDriver are therefore used by one thread at a time, as they require, and
// what happens next is decided only by virtual clocks:
//
//   * a core's "effective time" is its clock if it is serving a request, or
//     max(its clock, the next unassigned arrival) if it is idle;
//   * an idle core holding the baton takes the next request (FIFO) only if it
//     has the earliest effective time (ties: the lower core id); otherwise it
//     hands the baton to that core. So requests go to whichever core is free
//     first in virtual time, and an idle core never holds up a busy one;
//   * a busy core runs its policy's code until the policy yields; it then
//     keeps the baton unless it is more than the quantum ahead of the earliest
//     other core, to which it hands the baton;
//   * a core with nothing left to take exits and hands the baton on; the last
//     one wakes the main thread.
//
// No decision reads real time or depends on which thread the OS wakes first,
// and the seed fixes the arrivals and the machine's keys, so a run is a pure
// function of its config.
#include "platform/sim/simulator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace confide::platform::sim {
namespace {

using Clock = std::chrono::steady_clock;

// Expected arrivals above which a config must say max_requests: the arrival
// list is built up front.
constexpr double kMaxUncappedArrivals = 5e7;
// More serving threads than this is a config mistake, not a machine.
constexpr uint32_t kMaxCores = 1024;

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A uniform double in [0, 1) from 53 random bits; written out (rather than
// std::uniform_real_distribution / std::exponential_distribution, whose
// algorithms the standard leaves to the library) so that arrivals are the
// same with libstdc++ and libc++.
double Uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

Status ValidateConfig(const SimConfig& config) {
  if (config.functions.empty()) return InvalidArgumentError("simulator: no functions configured");
  if (config.signing_key == nullptr)
    return InvalidArgumentError("simulator: signing_key is required (it signs every enclave)");
  const uint32_t cores = config.cores ? config.cores : config.profile.cores;
  if (cores == 0 || cores > kMaxCores)
    return InvalidArgumentError(
        fmt::format("simulator: cores = {} is out of range [1, {}]", cores, kMaxCores));
  if (!std::isfinite(config.switch_quantum_us) || config.switch_quantum_us < 0)
    return InvalidArgumentError(
        fmt::format("simulator: switch_quantum_us = {} must be >= 0", config.switch_quantum_us));
  if (config.progress &&
      !(config.progress_interval_seconds > 0 && std::isfinite(config.progress_interval_seconds)))
    return InvalidArgumentError("simulator: progress_interval_seconds must be > 0");

  std::set<std::string> names;
  for (size_t i = 0; i < config.functions.size(); ++i) {
    const FunctionSpec& f = config.functions[i];
    if (f.name.empty())
      return InvalidArgumentError(fmt::format("simulator: function #{} has no name", i));
    if (!names.insert(f.name).second)
      return InvalidArgumentError(
          fmt::format("simulator: function \"{}\" is configured twice", f.name));
    if (!config.policy_factory) {
      const auto& known = PolicyNames();
      if (std::find(known.begin(), known.end(), f.policy) == known.end())
        return InvalidArgumentError(
            fmt::format("simulator: function \"{}\": unknown policy \"{}\" (known: {})", f.name,
                        f.policy, fmt::join(known, ", ")));
    }
    if (config.trace) {
      if (f.arrivals)
        return InvalidArgumentError(fmt::format(
            "simulator: function \"{}\" has an arrival process, but a trace drives the arrivals",
            f.name));
      continue;
    }
    if (!f.arrivals)
      return InvalidArgumentError(fmt::format(
          "simulator: function \"{}\" has no arrival process (and there is no trace)", f.name));
    const ArrivalProcess& a = *f.arrivals;
    if (!(a.rate_per_second > 0) || !std::isfinite(a.rate_per_second))
      return InvalidArgumentError(fmt::format(
          "simulator: function \"{}\": arrival rate {} must be > 0", f.name, a.rate_per_second));
    if (!(a.duration_seconds > 0) || !std::isfinite(a.duration_seconds))
      return InvalidArgumentError(fmt::format(
          "simulator: function \"{}\": duration {} s must be > 0", f.name, a.duration_seconds));
    if (config.max_requests == 0 && a.rate_per_second * a.duration_seconds > kMaxUncappedArrivals)
      return InvalidArgumentError(fmt::format(
          "simulator: function \"{}\": {} req/s for {} s is over {} requests; set max_requests",
          f.name, a.rate_per_second, a.duration_seconds, kMaxUncappedArrivals));
  }
  return OkStatus();
}

// Nearest-rank percentiles (the value below which p of the samples fall).
LatencyStats Stats(std::vector<double> ms) {
  LatencyStats s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  const auto pct = [&](double p) {
    size_t k = static_cast<size_t>(std::ceil(p * static_cast<double>(ms.size())));
    return ms[std::clamp<size_t>(k, 1, ms.size()) - 1];
  };
  s.p50_ms = pct(0.50);
  s.p90_ms = pct(0.90);
  s.p99_ms = pct(0.99);
  s.max_ms = ms.back();
  double sum = 0;
  for (double v : ms) sum += v;
  s.mean_ms = sum / static_cast<double>(ms.size());
  return s;
}

// The most intervals [begin, end) that overlap at one instant; an interval
// ending when another begins does not overlap it.
uint32_t MaxOverlap(std::vector<std::pair<uint64_t, uint64_t>> intervals) {
  std::vector<std::pair<uint64_t, int>> events;
  events.reserve(2 * intervals.size());
  for (const auto& [b, e] : intervals) {
    events.emplace_back(b, +1);
    events.emplace_back(e, -1);
  }
  std::sort(events.begin(), events.end());  // at equal times, -1 sorts first
  int alive = 0, peak = 0;
  for (const auto& ev : events) peak = std::max(peak, alive += ev.second);
  return static_cast<uint32_t>(peak);
}

class Simulation {
 public:
  Simulation(const SimConfig& config, std::vector<Arrival> arrivals)
      : config_(config), arrivals_(std::move(arrivals)), wall_start_(Clock::now()) {}
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  StatusOr<SimReport> Run();

 private:
  enum class CoreState : uint8_t { kIdle, kBusy, kDone };
  struct Held {
    size_t request;
    CoreId core;
    std::unique_ptr<Instance> instance;
  };
  struct Snapshot {
    machine::CounterSnapshot counters;
    DriverStats driver;
    SoftwareCounters software;
  };

  Status Setup();
  void Serve();
  void CoreLoop(CoreId c);
  void ServeRequest(CoreId c, size_t r);
  void Yield();
  uint64_t EffectiveTime(CoreId c) const;
  std::optional<CoreId> Earliest(std::optional<CoreId> except) const;
  void AwaitBaton(CoreId c);
  void PassBaton(CoreId from, CoreId to);
  void ReleaseBaton();
  void Fail(size_t r, const Error& e);
  void Sample();
  void Progress(bool force);
  Snapshot Take() const;
  SimReport BuildReport(const Snapshot& before, const Snapshot& after) const;
  void Teardown(SimReport& report);

  // Constant after Setup.
  const SimConfig& config_;
  const std::vector<Arrival> arrivals_;
  const Clock::time_point wall_start_;
  uint32_t cores_ = 0;
  uint64_t t0_ = 0;       // cycles: when arrivals start (every policy prepared)
  uint64_t quantum_ = 0;  // cycles
  std::vector<uint64_t> arrival_cycles_;
  std::unique_ptr<machine::Machine> machine_;
  std::unique_ptr<EpcDriver> driver_;
  PolicyContext ctx_;
  // Declared after machine_, driver_ and ctx_, so destroyed before them.
  std::vector<std::unique_ptr<StartPolicy>> policies_;
  double prepare_ms_ = 0;
  uint64_t prepare_evictions_ = 0;

  // The baton.
  std::mutex mu_;
  std::vector<std::condition_variable> wake_;  // one per core
  std::condition_variable finished_cv_;
  std::optional<CoreId> baton_;  // guarded by mu_
  bool finished_ = false;        // guarded by mu_

  // Touched only by the thread holding the baton (or by the main thread when
  // no core thread runs); the hand-off under mu_ orders every access.
  bool serving_ = false;  // yields are no-ops outside the serving phase
  CoreId current_ = 0;
  std::vector<CoreState> state_;
  size_t next_ = 0;    // the next unassigned arrival
  bool stop_ = false;  // hold mode: the machine is full
  std::vector<RequestRecord> records_;
  std::vector<std::string> errors_;  // per request; empty if it succeeded
  std::vector<Held> held_;
  std::string hold_limit_;
  uint32_t alive_ = 0;
  uint64_t completed_ = 0;
  uint64_t failed_ = 0;
  uint64_t switches_ = 0;
  uint32_t peak_used_ = 0;
  Clock::time_point last_progress_ = wall_start_;
  uint64_t last_progress_done_ = 0;
};

Status Simulation::Setup() {
  const machine::CostProfile& profile = config_.profile;
  cores_ = config_.cores ? config_.cores : profile.cores;
  machine::MachineConfig mc;
  mc.profile = profile;
  mc.epc_pages = config_.epc_pages;
  mc.cores = cores_;
  mc.page_contents = config_.page_contents;
  uint64_t state = config_.seed ^ 0x636f6e666964652dull;  // "confide-"
  std::array<uint8_t, 32> root{};
  for (size_t i = 0; i < root.size(); i += 8) {
    const uint64_t v = SplitMix64(state);
    for (size_t j = 0; j < 8; ++j) root[i + j] = static_cast<uint8_t>(v >> (8 * j));
  }
  mc.root_secret = root;
  auto m = machine::Machine::Create(std::move(mc));
  if (!m.ok()) return Annotate(m.status(), "simulator: machine");
  machine_ = std::move(*m);
  driver_ = std::make_unique<EpcDriver>(*machine_, config_.dram_limit_bytes);

  ctx_.machine = machine_.get();
  ctx_.driver = driver_.get();
  ctx_.software =
      config_.software ? *config_.software : BuiltinWorkloads(profile.frequency_hz).software;
  ctx_.signing_key = config_.signing_key;
  ctx_.yield = [this](CoreId) { Yield(); };

  for (const FunctionSpec& f : config_.functions) {
    auto p = config_.policy_factory ? config_.policy_factory(f, ctx_)
                                    : MakePolicy(f.policy, ctx_, f.workload, f.options);
    if (!p.ok()) {
      Status s = Annotate(
          p.status(), fmt::format("simulator: function \"{}\": policy \"{}\"", f.name, f.policy));
      if (p.error().code == ErrorCode::kNotFound) return InvalidArgumentError(s.error().message);
      return s;
    }
    policies_.push_back(std::move(*p));
  }
  // Prepare runs before the first arrival, one policy after another on core
  // 0, as a worker would at deployment time.
  const uint64_t prepare_begin = machine_->CoreCycles(0);
  for (size_t i = 0; i < policies_.size(); ++i) {
    Status s = policies_[i]->Prepare(0);
    if (!s.ok())
      return Annotate(
          s, fmt::format("simulator: function \"{}\": Prepare", config_.functions[i].name));
  }
  for (CoreId c = 0; c < cores_; ++c) t0_ = std::max(t0_, machine_->CoreCycles(c));
  for (CoreId c = 0; c < cores_; ++c) machine_->SetCoreCycles(c, t0_);
  prepare_ms_ = profile.Seconds(t0_ - prepare_begin) * 1e3;
  prepare_evictions_ = driver_->stats().evictions;

  const double hz = static_cast<double>(profile.frequency_hz);
  quantum_ = static_cast<uint64_t>(config_.switch_quantum_us * 1e-6 * hz);
  arrival_cycles_.reserve(arrivals_.size());
  for (const Arrival& a : arrivals_)
    arrival_cycles_.push_back(t0_ + static_cast<uint64_t>(std::llround(a.time_s * hz)));
  records_.resize(arrivals_.size());
  errors_.resize(arrivals_.size());
  state_.assign(cores_, CoreState::kIdle);
  wake_ = std::vector<std::condition_variable>(cores_);
  return OkStatus();
}

uint64_t Simulation::EffectiveTime(CoreId c) const {
  const uint64_t clock = machine_->CoreCycles(c);
  if (state_[c] == CoreState::kBusy || stop_ || next_ >= arrivals_.size()) return clock;
  return std::max(clock, arrival_cycles_[next_]);
}

std::optional<CoreId> Simulation::Earliest(std::optional<CoreId> except) const {
  std::optional<CoreId> best;
  uint64_t best_time = 0;
  for (CoreId c = 0; c < cores_; ++c) {
    if (state_[c] == CoreState::kDone || c == except) continue;
    const uint64_t t = EffectiveTime(c);
    if (!best || t < best_time) {
      best = c;
      best_time = t;
    }
  }
  return best;
}

void Simulation::AwaitBaton(CoreId c) {
  std::unique_lock lock(mu_);
  wake_[c].wait(lock, [&] { return baton_ == c; });
  current_ = c;
}

void Simulation::PassBaton(CoreId from, CoreId to) {
  ++switches_;
  {
    std::lock_guard lock(mu_);
    baton_ = to;
  }
  wake_[to].notify_one();
  AwaitBaton(from);
}

void Simulation::ReleaseBaton() {
  const std::optional<CoreId> next = Earliest(std::nullopt);
  {
    std::lock_guard lock(mu_);
    baton_ = next;
    finished_ = !next;
  }
  if (next) {
    wake_[*next].notify_one();
  } else {
    finished_cv_.notify_one();
  }
}

void Simulation::Yield() {
  if (!serving_) return;  // Prepare and Shutdown run on the main thread
  const CoreId c = current_;
  Sample();
  Progress(false);
  const std::optional<CoreId> other = Earliest(c);
  if (other && machine_->CoreCycles(c) > EffectiveTime(*other) + quantum_) PassBaton(c, *other);
}

void Simulation::CoreLoop(CoreId c) {
  AwaitBaton(c);
  for (;;) {
    if (stop_ || next_ >= arrivals_.size()) {
      state_[c] = CoreState::kDone;
      ReleaseBaton();
      return;
    }
    // FIFO by whichever core is free first: take the next request only if no
    // other core reaches it (or anything else) earlier in virtual time.
    const CoreId earliest = *Earliest(std::nullopt);
    if (earliest != c) {
      PassBaton(c, earliest);
      continue;
    }
    ServeRequest(c, next_++);
  }
}

void Simulation::Fail(size_t r, const Error& e) {
  records_[r].ok = false;
  errors_[r] = e.ToString();
  ++failed_;
}

void Simulation::ServeRequest(CoreId c, size_t r) {
  state_[c] = CoreState::kBusy;
  RequestRecord& rec = records_[r];
  rec.function = arrivals_[r].function;
  rec.core = c;
  rec.arrival_cycles = arrival_cycles_[r];
  rec.start_cycles = std::max(machine_->CoreCycles(c), rec.arrival_cycles);
  machine_->SetCoreCycles(c, rec.start_cycles);
  StartPolicy& policy = *policies_[rec.function];

  const auto hold_limit = [&](const Error& e) {
    if (config_.hold && e.code == ErrorCode::kResourceExhausted && !stop_) {
      stop_ = true;
      hold_limit_ = e.ToString();
    }
  };
  auto instance = policy.Start(c);
  if (!instance.ok()) {
    Fail(r, instance.error());
    hold_limit(instance.error());
  } else {
    ++alive_;
    // Phase boundaries are yields too: a policy's last step (a big software
    // charge, say the function's execution) moves this core's clock ahead in
    // one jump, and the cores behind must catch up before its next effects
    // (EEXIT, teardown freeing EPC pages) become visible to them.
    Yield();
    Status run = policy.Run(c, **instance);
    rec.response_cycles = machine_->CoreCycles(c);
    Yield();
    if (config_.hold && run.ok()) {
      held_.push_back(Held{r, c, std::move(*instance)});
      rec.ok = true;
      ++completed_;
    } else {
      Status finish = policy.Finish(c, std::move(*instance));
      --alive_;
      if (!run.ok()) {
        // Both errors: a teardown that fails after a failed Run is how a
        // policy leaks EPC pages, which the end-of-run check then reports.
        Error e = run.error();
        if (!finish.ok()) e.message += "; then Finish: " + finish.error().ToString();
        Fail(r, e);
        hold_limit(run.error());
      } else if (!finish.ok()) {
        Fail(r, finish.error());
      } else {
        rec.ok = true;
        ++completed_;
      }
    }
  }
  rec.finish_cycles = machine_->CoreCycles(c);
  state_[c] = CoreState::kIdle;
  Sample();
  Progress(false);
}

void Simulation::Sample() {
  peak_used_ = std::max(peak_used_, machine_->epc_pages() - machine_->FreePageCount());
}

void Simulation::Progress(bool force) {
  if (!config_.progress) return;
  const Clock::time_point now = Clock::now();
  const uint64_t done = completed_ + failed_;
  const bool by_count = config_.progress_every_requests &&
                        done >= last_progress_done_ + config_.progress_every_requests;
  const bool by_time = std::chrono::duration<double>(now - last_progress_).count() >=
                       config_.progress_interval_seconds;
  if (!force && !by_count && !by_time) return;
  last_progress_ = now;
  last_progress_done_ = done;
  SimProgress p;
  p.requests = arrivals_.size();
  p.started = next_;
  p.completed = completed_;
  p.failed = failed_;
  p.alive = alive_;
  const uint64_t clock = serving_ ? machine_->CoreCycles(current_) : 0;
  p.virtual_seconds = clock > t0_ ? config_.profile.Seconds(clock - t0_) : 0;
  p.wall_seconds = std::chrono::duration<double>(now - wall_start_).count();
  config_.progress(p);
}

void Simulation::Serve() {
  serving_ = true;
  std::vector<std::thread> threads;
  threads.reserve(cores_);
  for (CoreId c = 0; c < cores_; ++c) threads.emplace_back([this, c] { CoreLoop(c); });
  {
    std::unique_lock lock(mu_);
    baton_ = Earliest(std::nullopt);  // cores_ >= 1, all idle: never empty
    wake_[*baton_].notify_one();
    finished_cv_.wait(lock, [&] { return finished_; });
  }
  for (std::thread& t : threads) t.join();
  serving_ = false;
  // Requests after a hold-mode stop were never picked up: not part of the run.
  records_.resize(next_);
  errors_.resize(next_);
}

Simulation::Snapshot Simulation::Take() const {
  return Snapshot{machine_->Counters(), driver_->stats(), ctx_.software_counters};
}

SimReport Simulation::BuildReport(const Snapshot& before, const Snapshot& after) const {
  SimReport report;
  const machine::CostProfile& profile = config_.profile;
  report.cores = cores_;
  report.epc_pages = machine_->epc_pages();
  report.frequency_hz = profile.frequency_hz;
  report.seed = config_.seed;
  report.hold = config_.hold;
  report.prepare_ms = prepare_ms_;
  report.prepare_evictions = prepare_evictions_;
  report.evictions = after.driver.evictions - before.driver.evictions;
  report.reloads = after.driver.reloads - before.driver.reloads;
  report.va_evictions = after.driver.va_evictions - before.driver.va_evictions;
  report.va_reloads = after.driver.va_reloads - before.driver.va_reloads;
  report.peak_backing_pages = after.driver.peak_backing_pages;
  report.peak_epc_pages_used = peak_used_;
  report.counters = after.counters.Since(before.counters);
  for (size_t i = 0; i < kSoftwareWorkCount; ++i)
    report.software.cycles[i] = after.software.cycles[i] - before.software.cycles[i];
  report.hold_limit = hold_limit_;
  report.switches = switches_;
  report.requests = records_;

  const auto ms = [&](uint64_t cycles) { return profile.Seconds(cycles) * 1e3; };
  // One row over the requests `in` selects.
  const auto row = [&](const std::function<bool(const RequestRecord&)>& in) {
    FunctionReport f;
    std::vector<double> latency, queueing;
    std::vector<std::pair<uint64_t, uint64_t>> alive;
    uint64_t first_arrival = std::numeric_limits<uint64_t>::max(), last_finish = 0;
    for (size_t r = 0; r < records_.size(); ++r) {
      const RequestRecord& rec = records_[r];
      if (!in(rec)) continue;
      ++f.requests;
      first_arrival = std::min(first_arrival, rec.arrival_cycles);
      if (!rec.ok) {
        ++f.failed;
        if (f.first_error.empty()) f.first_error = errors_[r];
        continue;
      }
      ++f.completed;
      latency.push_back(ms(rec.response_cycles - rec.arrival_cycles));
      queueing.push_back(ms(rec.start_cycles - rec.arrival_cycles));
      last_finish = std::max(last_finish, rec.finish_cycles);
      // A held instance stays alive to the end of the run.
      alive.emplace_back(rec.start_cycles,
                         config_.hold ? std::numeric_limits<uint64_t>::max() : rec.finish_cycles);
    }
    f.latency = Stats(std::move(latency));
    f.queueing = Stats(std::move(queueing));
    if (f.completed && last_finish > first_arrival)
      f.throughput_rps =
          static_cast<double>(f.completed) / profile.Seconds(last_finish - first_arrival);
    f.max_instances = MaxOverlap(std::move(alive));
    return f;
  };
  for (uint32_t i = 0; i < config_.functions.size(); ++i) {
    FunctionReport f = row([i](const RequestRecord& rec) { return rec.function == i; });
    f.name = config_.functions[i].name;
    f.policy = config_.functions[i].policy;
    report.functions.push_back(std::move(f));
  }
  report.overall = row([](const RequestRecord&) { return true; });
  report.overall.name = "all";
  report.density = report.overall.max_instances;

  uint64_t first = std::numeric_limits<uint64_t>::max(), last = 0;
  for (const RequestRecord& rec : records_) {
    first = std::min(first, rec.arrival_cycles);
    last = std::max(last, rec.finish_cycles);
  }
  if (last > first) report.makespan_s = profile.Seconds(last - first);
  return report;
}

void Simulation::Teardown(SimReport& report) {
  const auto note = [&](const Status& s, const std::string& what) {
    if (!s.ok() && report.shutdown_error.empty())
      report.shutdown_error = what + ": " + s.ToString();
  };
  // Held instances on the cores that started them, in arrival order.
  for (Held& h : held_) {
    const size_t f = records_[h.request].function;
    note(policies_[f]->Finish(h.core, std::move(h.instance)),
         fmt::format("function \"{}\": Finish of held request {}", config_.functions[f].name,
                     h.request));
  }
  held_.clear();
  for (size_t i = 0; i < policies_.size(); ++i)
    note(policies_[i]->Shutdown(0),
         fmt::format("function \"{}\": Shutdown", config_.functions[i].name));
  if (driver_->stats().backing_pages == 0) {
    note(driver_->ReleaseVaPages(0), "driver: ReleaseVaPages");
  } else if (report.shutdown_error.empty()) {
    report.shutdown_error = fmt::format("driver: {} pages still evicted after teardown",
                                        driver_->stats().backing_pages);
  }
  report.epc_free_pages_at_end = machine_->FreePageCount();
  report.epc_empty_at_end = report.epc_free_pages_at_end == machine_->epc_pages();
}

StatusOr<SimReport> Simulation::Run() {
  CONFIDE_RETURN_IF_ERROR(Setup());
  const Snapshot before = Take();
  Serve();
  const Snapshot after = Take();
  SimReport report = BuildReport(before, after);
  Teardown(report);
  Progress(true);
  report.wall_s = std::chrono::duration<double>(Clock::now() - wall_start_).count();
  return report;
}

// ---- JSON and summary ----------------------------------------------------

nlohmann::json LatencyJson(const LatencyStats& s) {
  return {{"p50_ms", s.p50_ms},
          {"p90_ms", s.p90_ms},
          {"p99_ms", s.p99_ms},
          {"mean_ms", s.mean_ms},
          {"max_ms", s.max_ms}};
}

nlohmann::json FunctionJson(const FunctionReport& f) {
  nlohmann::json j = {{"name", f.name},
                      {"requests", f.requests},
                      {"completed", f.completed},
                      {"failed", f.failed},
                      {"latency", LatencyJson(f.latency)},
                      {"queueing", LatencyJson(f.queueing)},
                      {"throughput_rps", f.throughput_rps},
                      {"max_instances", f.max_instances}};
  if (!f.policy.empty()) j["policy"] = f.policy;
  if (!f.first_error.empty()) j["first_error"] = f.first_error;
  return j;
}

// Names of machine::PageEvents fields, in kPageEventFields order.
constexpr const char* kPageEventNames[] = {"pages_added",   "pages_augmented", "chunks_measured",
                                           "pages_evicted", "pages_reloaded",  "pages_removed",
                                           "cow_copies"};
static_assert(std::size(kPageEventNames) == machine::kPageEventCount);

}  // namespace

StatusOr<std::vector<Arrival>> GenerateArrivals(const SimConfig& config) {
  CONFIDE_RETURN_IF_ERROR(ValidateConfig(config));
  std::vector<Arrival> arrivals;
  if (config.trace) {
    std::map<std::string, uint32_t, std::less<>> index;
    for (uint32_t i = 0; i < config.functions.size(); ++i) index[config.functions[i].name] = i;
    const std::vector<TraceEvent>& trace = *config.trace;
    for (size_t k = 0; k < trace.size(); ++k) {
      const TraceEvent& e = trace[k];
      auto it = index.find(e.function);
      if (it == index.end())
        return InvalidArgumentError(
            fmt::format("simulator: trace event #{}: unknown function \"{}\"", k, e.function));
      if (!std::isfinite(e.time_s) || e.time_s < 0)
        return InvalidArgumentError(
            fmt::format("simulator: trace event #{}: time {} must be >= 0", k, e.time_s));
      if (k > 0 && e.time_s < trace[k - 1].time_s)
        return InvalidArgumentError(
            fmt::format("simulator: trace event #{}: time {} is earlier than {} before it", k,
                        e.time_s, trace[k - 1].time_s));
      // Past the cap the trace is still checked: a typo is an error whatever the cap.
      if (config.max_requests == 0 || arrivals.size() < config.max_requests)
        arrivals.push_back(Arrival{e.time_s, it->second});
    }
    return arrivals;
  }
  for (uint32_t i = 0; i < config.functions.size(); ++i) {
    const ArrivalProcess& a = *config.functions[i].arrivals;
    // One generator per function, so adding a function does not change the
    // arrivals of the others.
    uint64_t state = config.seed * 0x2545f4914f6cdd1dull + i;
    std::mt19937_64 rng(SplitMix64(state));
    double t = 0;
    for (uint64_t n = 0; config.max_requests == 0 || n < config.max_requests; ++n) {
      if (a.kind == ArrivalProcess::Kind::kUniform) {
        t = static_cast<double>(n) / a.rate_per_second;
      } else {
        t += -std::log1p(-Uniform01(rng)) / a.rate_per_second;
      }
      if (t >= a.duration_seconds) break;
      arrivals.push_back(Arrival{t, i});
    }
  }
  std::stable_sort(arrivals.begin(), arrivals.end(), [](const Arrival& x, const Arrival& y) {
    return x.time_s < y.time_s || (x.time_s == y.time_s && x.function < y.function);
  });
  if (config.max_requests && arrivals.size() > config.max_requests)
    arrivals.resize(config.max_requests);
  return arrivals;
}

StatusOr<SimReport> RunSimulation(const SimConfig& config) {
  CONFIDE_ASSIGN_OR_RETURN(std::vector<Arrival> arrivals, GenerateArrivals(config));
  Simulation sim(config, std::move(arrivals));
  return sim.Run();
}

std::string SimReport::ToJson(bool with_requests, int indent) const {
  nlohmann::json j;
  j["config"] = {{"cores", cores},
                 {"epc_pages", epc_pages},
                 {"frequency_hz", frequency_hz},
                 {"seed", seed},
                 {"hold", hold}};
  j["prepare"] = {{"ms", prepare_ms}, {"evictions", prepare_evictions}};
  j["overall"] = FunctionJson(overall);
  j["functions"] = nlohmann::json::array();
  for (const FunctionReport& f : functions) j["functions"].push_back(FunctionJson(f));
  j["density"] = density;
  if (!hold_limit.empty()) j["hold_limit"] = hold_limit;
  j["epc"] = {{"evictions", evictions},
              {"reloads", reloads},
              {"va_evictions", va_evictions},
              {"va_reloads", va_reloads},
              {"peak_backing_pages", peak_backing_pages},
              {"peak_pages_used", peak_epc_pages_used},
              {"free_pages_at_end", epc_free_pages_at_end},
              {"empty_at_end", epc_empty_at_end}};
  nlohmann::json instructions = nlohmann::json::object();
  for (const machine::InstructionInfo& info : machine::AllInstructions()) {
    const size_t i = static_cast<size_t>(info.id);
    if (counters.count[i] == 0) continue;
    instructions[std::string(info.name)] = {{"count", counters.count[i]},
                                            {"cycles", counters.cycles[i]}};
  }
  j["instructions"] = instructions;
  nlohmann::json events = nlohmann::json::object();
  for (size_t i = 0; i < machine::kPageEventCount; ++i)
    events[kPageEventNames[i]] = counters.events.*machine::kPageEventFields[i];
  j["page_events"] = events;
  nlohmann::json software_json = nlohmann::json::object();
  for (size_t i = 0; i < kSoftwareWorkCount; ++i)
    software_json[std::string(SoftwareWorkName(static_cast<SoftwareWork>(i)))] = software.cycles[i];
  software_json["total"] = software.total();
  j["software_cycles"] = software_json;
  j["makespan_s"] = makespan_s;
  j["wall_s"] = wall_s;
  j["switches"] = switches;
  if (!shutdown_error.empty()) j["shutdown_error"] = shutdown_error;
  if (with_requests) {
    nlohmann::json rs = nlohmann::json::array();
    for (const RequestRecord& r : requests)
      rs.push_back({{"function", r.function},
                    {"core", r.core},
                    {"arrival_cycles", r.arrival_cycles},
                    {"start_cycles", r.start_cycles},
                    {"response_cycles", r.response_cycles},
                    {"finish_cycles", r.finish_cycles},
                    {"ok", r.ok}});
    j["requests"] = rs;
  }
  return j.dump(indent);
}

std::string SimReport::Summary() const {
  std::string s = fmt::format(
      "{} requests ({} ok, {} failed) on {} cores: p50 {:.3f} ms, p99 {:.3f} ms, {:.1f} req/s, "
      "density {}, EPC evictions {} / reloads {}, makespan {:.3f} s, wall {:.2f} s",
      overall.requests, overall.completed, overall.failed, cores, overall.latency.p50_ms,
      overall.latency.p99_ms, overall.throughput_rps, density, evictions, reloads, makespan_s,
      wall_s);
  if (!hold_limit.empty()) s += "; held until: " + hold_limit;
  if (!overall.first_error.empty()) s += "; first error: " + overall.first_error;
  if (!shutdown_error.empty()) s += "; SHUTDOWN: " + shutdown_error;
  if (!epc_empty_at_end)
    s += fmt::format("; EPC not empty at end ({} free of {})", epc_free_pages_at_end, epc_pages);
  return s;
}

}  // namespace confide::platform::sim
