// experiment.h — how the experiments of `confide bench reproduce` are
// described and run: each is a plan of independent jobs (one machine model
// each, so they run in parallel on the host's cores) and an assembly step
// that turns the jobs' results into figures and tables.
//
//   Reproduce ──> for each selected experiment:
//                   Plan()      -> jobs [(label, weight, run)]
//                   job pool    -> run() on `threads` host threads, longest first
//                   Assemble()  -> ExperimentOutput (figures, tables, notes)
//
// A job records its own result (or the error of a failing policy) in the
// experiment's state, at an index nobody else writes; the pool's join
// orders those writes before Assemble. A failing policy is a result: it
// shows in the CSV and the report, and the run goes on.
//
// Thread-safety: Plan and Assemble run on the calling thread; jobs run on
// pool threads, concurrently with each other. Setup is read-only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "crypto/rsa.h"
#include "experiments/results.h"
#include "machine/cost_profile.h"
#include "machine/machine.h"
#include "platform/epc_driver.h"
#include "platform/policy/start_policy.h"
#include "platform/workload.h"

namespace confide::experiments {

struct Setup {
  bool quick = false;            // scaled-down runs (tests): sizes divided by kQuickDivisor
  std::string profile_override;  // empty: each experiment runs on its paper's testbed
  // Signs every synthetic image. Borrowed; outlives the run.
  const crypto::Rsa3072PrivateKey* key = nullptr;

  static constexpr uint32_t kQuickDivisor = 32;

  // The override if set, else the built-in profile `paper_profile`.
  StatusOr<machine::CostProfile> Profile(std::string_view paper_profile) const;
};

// Reported by a running job, for the progress display.
class JobProgress {
 public:
  virtual ~JobProgress() = default;
  // How much of the job is done, in [0, 1].
  virtual void Fraction(double done) = 0;
};

struct Job {
  std::string label;
  double weight = 1;  // estimated seconds of real time, for the ETA
  // Records its result in the experiment's state; returns false if what it
  // measures failed (the error is recorded too).
  std::function<bool(JobProgress&)> run;
};

class Experiment {
 public:
  virtual ~Experiment() = default;
  // The jobs; an error here (an unknown profile, say) ends the run.
  virtual StatusOr<std::vector<Job>> Plan() = 0;
  // Called once, after every job has run.
  virtual ExperimentOutput Assemble() = 0;
};

struct ExperimentInfo {
  std::string name;                   // the experiment's own name
  std::vector<std::string> provides;  // --only names that select it, in paper order
  std::string title;
  std::unique_ptr<Experiment> (*make)(const Setup&);
};

// Every experiment, in the papers' order.
const std::vector<ExperimentInfo>& AllExperiments();
// Every name --only accepts, in the papers' order.
std::vector<std::string> ExperimentNames();

// The factories (exp_startup.cc, exp_chain.cc, exp_sim.cc).
std::unique_ptr<Experiment> MakeFig3a(const Setup& setup);
std::unique_ptr<Experiment> MakeFig3c(const Setup& setup);
std::unique_ptr<Experiment> MakeFig9a(const Setup& setup);
std::unique_ptr<Experiment> MakeFig9b(const Setup& setup);
std::unique_ptr<Experiment> MakeAutoscale(const Setup& setup);
std::unique_ptr<Experiment> MakeFig9d(const Setup& setup);
std::unique_ptr<Experiment> MakeEnturbo(const Setup& setup);

// ---- Helpers the experiments share (common.cc) ----------------------------

// The five applications of PIE Table I in the paper's figure order
// (enc-file, auth, face-detector, sentiment, chatbot), at the profile's
// frequency; divided by kQuickDivisor in quick mode.
std::vector<platform::WorkloadProfile> PaperWorkloads(const Setup& setup,
                                                      const machine::CostProfile& profile);
// `w` with every size divided by `divisor` (at least one page where it had
// any) and its execution time too; the name is kept.
platform::WorkloadProfile Scaled(const platform::WorkloadProfile& w, uint32_t divisor);

// One request, in cycles of the core that served it.
struct ServeResult {
  uint64_t start = 0;      // StartPolicy::Start: an instance ready to run
  uint64_t run = 0;        // Run: enter, execute, exit
  uint64_t finish = 0;     // Finish: teardown or reset (after the response)
  uint64_t evictions = 0;  // EWB by the driver during the request
  // What a client waits for: start + run (the response leaves at EEXIT).
  uint64_t latency() const { return start + run; }
};
// One request on an idle machine (cost-only pages, `cores` cores): the
// policy's Prepare, then Start, Run and Finish on core 0 (ServeOne's steps,
// timed apart), then Shutdown. Errors name the policy and the step.
StatusOr<ServeResult> ServeOnce(const Setup& setup, const machine::CostProfile& profile,
                                const platform::WorkloadProfile& workload, std::string_view policy,
                                const platform::PolicyOptions& options, uint32_t cores);

// A machine (cost-only pages, a fixed root secret), its EPC driver and a
// policy context over them, for one job.
struct Bench {
  std::unique_ptr<machine::Machine> machine;
  std::unique_ptr<platform::EpcDriver> driver;
  platform::PolicyContext ctx;
};
StatusOr<std::unique_ptr<Bench>> NewBench(const Setup& setup, const machine::CostProfile& profile,
                                          uint32_t cores);

// Estimated real seconds of building `pages` EPC pages with the model
// (cost-only, evicting): the unit of job weights.
double PageSeconds(double pages);

// One line for a report cell: the error's text without line breaks.
std::string OneLine(const Error& e);

// The point at `x` of a job's result: `value(*result)`, or the error ("not
// run" if the job never ran).
template <typename T, typename F>
Point PointOf(std::string x, const std::optional<StatusOr<T>>& result, F value) {
  Point p;
  p.x = std::move(x);
  if (!result)
    p.error = "not run";
  else if (!result->ok())
    p.error = OneLine(result->error());
  else
    p.ours = value(**result);
  return p;
}

}  // namespace confide::experiments
