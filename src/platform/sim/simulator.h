// simulator.h — a discrete-event simulator of one worker machine: its cores,
// one EPC shared by every enclave they build, a DRAM limit, requests arriving
// at a rate or from a trace, and a start policy per function. Contention and
// eviction are not formulas: every request runs its policy's real code on the
// machine model (cost-only pages by default), so while one core builds an
// enclave the others' enclaves occupy the EPC, and the EpcDriver evicts them.
//
// Usage:
//
//   SimConfig config;
//   config.profile = machine::CostProfile::Default();
//   config.signing_key = &key;
//   config.functions.push_back({.name = "resize", .workload = w, .policy = "pie-cold",
//                               .arrivals = ArrivalProcess{.rate_per_second = 50,
//                                                          .duration_seconds = 10}});
//   CONFIDE_ASSIGN_OR_RETURN(SimReport report, RunSimulation(config));
//   std::cout << report.Summary() << "\n" << report.ToJson() << "\n";
//
// Virtual time and cores (see simulator.cc for the full argument):
//
//   core 0  |--req 0: Start.....Run..Finish--|     |--req 3: Start...
//   core 1     |--req 1: Start.........Run..Finish--|
//   core 2        |--req 2: Start...<evicts req 0's pages>...
//           ^ arrivals, served FIFO by whichever core is free first
//
// Each core is a host thread with its own virtual clock (the machine's
// per-core cycle counter). Exactly one thread runs at a time: it holds a
// baton, and passes it when the policy yields (PolicyContext::yield, about
// every 64 pages) and its clock is more than `switch_quantum_us` ahead of the
// core that is furthest behind. The order of execution is therefore a pure
// function of the virtual clocks, and a run is deterministic for a seed.
//
// Thread-safety: RunSimulation may be called from any thread; concurrent
// calls share nothing. It blocks until the run is over. `progress` is called
// on one of the simulator's threads, never concurrently with itself.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "crypto/rsa.h"
#include "machine/counters.h"
#include "machine/machine.h"
#include "platform/epc_driver.h"
#include "platform/policy/start_policy.h"
#include "platform/sim/trace.h"
#include "platform/workload.h"

namespace confide::platform::sim {

// Open-loop arrivals of one function from time 0 to `duration_seconds`.
struct ArrivalProcess {
  enum class Kind : uint8_t {
    kPoisson,  // exponential gaps with mean 1 / rate, drawn from the seed
    kUniform,  // one request every 1 / rate seconds, starting at 0
  };
  double rate_per_second = 0;
  double duration_seconds = 0;
  Kind kind = Kind::kPoisson;
};

struct FunctionSpec {
  std::string name;  // unique; what a trace names
  WorkloadProfile workload;
  std::string policy;  // a name from PolicyNames()
  PolicyOptions options;
  // Required unless SimConfig::trace is set, and must be unset when it is.
  std::optional<ArrivalProcess> arrivals;
};

// Makes the policy of one function; the default is MakePolicy. Tests and
// experiments inject their own policies through it. `ctx` outlives the
// policy.
using PolicyFactory = std::function<StatusOr<std::unique_ptr<StartPolicy>>(
    const FunctionSpec& function, PolicyContext& ctx)>;

// Where a run is, for a progress display.
struct SimProgress {
  uint64_t requests = 0;   // requests in the run (arrivals)
  uint64_t started = 0;    // picked up by a core
  uint64_t completed = 0;  // finished successfully
  uint64_t failed = 0;
  uint32_t alive = 0;          // instances between Start and Finish now
  double virtual_seconds = 0;  // the running core's clock since arrivals began
  double wall_seconds = 0;
};

struct SimConfig {
  machine::CostProfile profile = machine::CostProfile::Default();
  // Cores that serve requests; 0 means profile.cores.
  uint32_t cores = 0;
  // EPC pages; 0 means profile.epc_bytes / 4096.
  uint32_t epc_pages = 0;
  // DRAM for the EPC plus the driver's backing store; 0 means no limit.
  uint64_t dram_limit_bytes = 0;
  // Cost-only by default: the same instructions, checks and cycles without
  // page bytes, hashing or sealing, so a run of thousands of enclaves is fast.
  machine::PageContents page_contents = machine::PageContents::kCostOnly;
  // Seeds Poisson arrivals and the machine's root secret.
  uint64_t seed = 1;
  // Signs every enclave the policies build. Borrowed; REQUIRES: non-null and
  // outlives the call (generating an RSA-3072 key per run would be slow).
  const crypto::Rsa3072PrivateKey* signing_key = nullptr;
  // Software costs (hashing, zeroing...); unset: the built-in table's.
  std::optional<SoftwareCosts> software;
  std::vector<FunctionSpec> functions;
  // A trace instead of per-function arrival processes.
  std::optional<std::vector<TraceEvent>> trace;
  // Keep only the first `max_requests` arrivals; 0 keeps all.
  uint64_t max_requests = 0;
  // Density mode: instances are started (and run once) but never finished;
  // the run ends at the first Start that fails with ResourceExhausted (the
  // EPC driver's DRAM limit, typically) or when arrivals run out. The report's
  // `density` is then how many instances the machine held at once.
  bool hold = false;
  // A core that yields passes the baton only if it is ahead of the core
  // furthest behind by more than this much virtual time. Smaller is finer
  // interleaving and more thread switches.
  double switch_quantum_us = 100;
  // Unset: MakePolicy(function.policy, ctx, function.workload, function.options).
  PolicyFactory policy_factory;
  // Called about every `progress_interval_seconds` of real time, every
  // `progress_every_requests` finished requests (0: never by count), and once
  // at the end.
  std::function<void(const SimProgress&)> progress;
  double progress_interval_seconds = 1.0;
  uint64_t progress_every_requests = 0;
};

// One request, in virtual time (cycles of the machine's cores; time 0 is the
// machine's boot, arrivals start when every policy is prepared).
struct RequestRecord {
  uint32_t function = 0;  // index into SimConfig::functions
  uint32_t core = 0;      // the core that served it
  uint64_t arrival_cycles = 0;
  uint64_t start_cycles = 0;     // picked up by the core (queueing ends)
  uint64_t response_cycles = 0;  // end of Run: the response leaves (latency ends)
  uint64_t finish_cycles = 0;    // end of Finish (hold mode: end of Run)
  bool ok = false;
  bool operator==(const RequestRecord&) const = default;
};

struct LatencyStats {
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double mean_ms = 0;
  double max_ms = 0;
  bool operator==(const LatencyStats&) const = default;
};

struct FunctionReport {
  std::string name;  // "all" for the overall row
  std::string policy;
  uint64_t requests = 0;
  uint64_t completed = 0;
  uint64_t failed = 0;
  std::string first_error;     // of the first failed request, in arrival order
  LatencyStats latency;        // arrival to finish, queueing included, completed requests
  LatencyStats queueing;       // arrival to pick-up, completed requests
  double throughput_rps = 0;   // completed / (last finish - first arrival)
  uint32_t max_instances = 0;  // instances alive at once (pick-up to finish)
  bool operator==(const FunctionReport&) const = default;
};

struct SimReport {
  std::vector<FunctionReport> functions;  // in SimConfig::functions order
  FunctionReport overall;
  std::vector<RequestRecord> requests;  // in arrival order

  uint32_t cores = 0;
  uint32_t epc_pages = 0;
  uint64_t frequency_hz = 0;
  uint64_t seed = 0;
  bool hold = false;

  // Prepare of every policy, one after another on core 0, before the first
  // arrival; its evictions are not counted below.
  double prepare_ms = 0;
  uint64_t prepare_evictions = 0;

  // Serving phase (first arrival to last finish): driver and machine counters.
  uint64_t evictions = 0;  // EWB of enclave pages (driver)
  uint64_t reloads = 0;    // ELDU of enclave pages (driver)
  uint64_t va_evictions = 0;
  uint64_t va_reloads = 0;
  uint64_t peak_backing_pages = 0;   // the driver's backing store, whole run
  uint32_t peak_epc_pages_used = 0;  // sampled at every yield and request boundary
  machine::CounterSnapshot counters;
  SoftwareCounters software;

  // Instances alive at once, all functions together (pick-up to finish, in
  // virtual time). In hold mode: the machine's density.
  uint32_t density = 0;
  // Hold mode: the Start failure that ended the run (empty if arrivals ran out).
  std::string hold_limit;

  double makespan_s = 0;  // virtual: first arrival to last finish
  double wall_s = 0;      // real time of the whole run, setup and teardown included
  uint64_t switches = 0;  // baton passes between cores

  // After teardown, policy Shutdown and the driver's VA release.
  uint32_t epc_free_pages_at_end = 0;
  bool epc_empty_at_end = false;
  std::string shutdown_error;  // empty if teardown succeeded

  // The report as JSON (per-request records only if `with_requests`).
  std::string ToJson(bool with_requests = false, int indent = 2) const;
  // One line: requests, failures, p50/p99, throughput, density, evictions.
  std::string Summary() const;
};

// Runs the simulation described by `config` to the end. InvalidArgumentError
// naming the problem for an invalid config (no functions, an unknown policy,
// a rate or duration <= 0, a trace naming an unknown function or out of
// order...); errors of machine or policy setup (Prepare) are returned with
// the function named. Failures of individual requests are not errors of the
// run: they are counted in the report with the first error's message.
StatusOr<SimReport> RunSimulation(const SimConfig& config);

// The arrivals a config produces, as (seconds, function index), sorted by
// time, ties by function index; capped at max_requests. Same checks as
// RunSimulation for functions, arrivals and the trace.
struct Arrival {
  double time_s = 0;
  uint32_t function = 0;
  bool operator==(const Arrival&) const = default;
};
StatusOr<std::vector<Arrival>> GenerateArrivals(const SimConfig& config);

}  // namespace confide::platform::sim
