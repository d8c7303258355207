#include <algorithm>

#include <fmt/format.h>

#include "experiments/experiment.h"
#include "machine/machine.h"
#include "platform/epc_driver.h"

namespace confide::experiments {

using platform::WorkloadProfile;

StatusOr<machine::CostProfile> Setup::Profile(std::string_view paper_profile) const {
  return machine::CostProfile::Builtin(profile_override.empty() ? paper_profile : profile_override);
}

const std::vector<ExperimentInfo>& AllExperiments() {
  static const std::vector<ExperimentInfo> all = {
      {"fig3a", {"fig3a"}, "Fig. 3a: enclave startup vs enclave size", MakeFig3a},
      {"fig3c", {"fig3c"}, "Fig. 3c: chain transfer cost vs data size", MakeFig3c},
      {"fig9a", {"fig9a"}, "Fig. 9a: end-to-end latency of one request", MakeFig9a},
      {"fig9b", {"fig9b"}, "Fig. 9b: instance density under a DRAM limit", MakeFig9b},
      {"autoscale",
       {"fig9c", "table5"},
       "Fig. 9c and Table V: autoscaling throughput and EPC evictions",
       MakeAutoscale},
      {"fig9d", {"fig9d"}, "Fig. 9d: chain hand-off cost vs chain length", MakeFig9d},
      {"enturbo", {"enturbo"}, "EnTurbo: startup speedup vs measurement workers", MakeEnturbo},
  };
  return all;
}

std::vector<std::string> ExperimentNames() {
  std::vector<std::string> names;
  for (const ExperimentInfo& e : AllExperiments())
    for (const std::string& n : e.provides) names.push_back(n);
  return names;
}

WorkloadProfile Scaled(const WorkloadProfile& w, uint32_t divisor) {
  if (divisor <= 1) return w;
  const auto div = [divisor](uint64_t pages) -> uint64_t {
    return pages == 0 ? 0 : std::max<uint64_t>(1, pages / divisor);
  };
  WorkloadProfile s = w;
  s.runtime_pages = div(w.runtime_pages);
  // Every library keeps at least one page, so the plugin count stays.
  s.library_pages = std::max<uint64_t>(div(w.library_pages), w.libraries);
  s.function_pages = div(w.function_pages);
  s.data_pages = div(w.data_pages);
  s.heap_pages = div(w.heap_pages);
  s.sgx_heap_pages = std::max(div(w.sgx_heap_pages), s.heap_pages);
  s.exec_cycles = w.exec_cycles / divisor;
  s.exec_ms = w.exec_ms / divisor;
  return s;
}

std::vector<WorkloadProfile> PaperWorkloads(const Setup& setup,
                                            const machine::CostProfile& profile) {
  const platform::WorkloadSet set = platform::BuiltinWorkloads(profile.frequency_hz);
  std::vector<WorkloadProfile> out;
  for (const char* name : {"enc-file", "auth", "face-detector", "sentiment", "chatbot"}) {
    StatusOr<WorkloadProfile> w = set.Find(name);
    if (!w.ok()) continue;  // the table is compiled in; a missing row shows as missing points
    out.push_back(setup.quick ? Scaled(*w, Setup::kQuickDivisor) : *w);
  }
  return out;
}

StatusOr<std::unique_ptr<Bench>> NewBench(const Setup& setup, const machine::CostProfile& profile,
                                          uint32_t cores) {
  machine::MachineConfig mc;
  mc.profile = profile;
  mc.cores = cores;
  mc.page_contents = machine::PageContents::kCostOnly;
  // Fixed, so that a run is reproducible (keys derive from it; costs do not).
  mc.root_secret = std::array<uint8_t, 32>{'c', 'o', 'n', 'f', 'i', 'd', 'e'};
  auto bench = std::make_unique<Bench>();
  CONFIDE_ASSIGN_OR_RETURN(bench->machine, machine::Machine::Create(std::move(mc)));
  bench->driver = std::make_unique<platform::EpcDriver>(*bench->machine);
  bench->ctx.machine = bench->machine.get();
  bench->ctx.driver = bench->driver.get();
  bench->ctx.software = platform::BuiltinWorkloads(profile.frequency_hz).software;
  bench->ctx.signing_key = setup.key;
  return bench;
}

StatusOr<ServeResult> ServeOnce(const Setup& setup, const machine::CostProfile& profile,
                                const WorkloadProfile& workload, std::string_view policy,
                                const platform::PolicyOptions& options, uint32_t cores) {
  CONFIDE_ASSIGN_OR_RETURN(std::unique_ptr<Bench> bench, NewBench(setup, profile, cores));
  machine::Machine* m = bench->machine.get();
  platform::EpcDriver& driver = *bench->driver;
  platform::PolicyContext& ctx = bench->ctx;
  CONFIDE_ASSIGN_OR_RETURN(std::unique_ptr<platform::StartPolicy> p,
                           platform::MakePolicy(policy, ctx, workload, options));
  CONFIDE_RETURN_IF_ERROR(Annotate(p->Prepare(0), fmt::format("{}: Prepare", policy)));
  const uint64_t evictions_before = driver.stats().evictions;
  ServeResult r;
  uint64_t t = m->CoreCycles(0);
  const auto lap = [&] {
    const uint64_t now = m->CoreCycles(0);
    const uint64_t d = now - t;
    t = now;
    return d;
  };
  Status failed;
  StatusOr<std::unique_ptr<platform::Instance>> in = p->Start(0);
  r.start = lap();
  if (!in.ok()) {
    failed = Annotate(in.status(), fmt::format("{}: Start", policy));
  } else {
    Status run = p->Run(0, **in);
    r.run = lap();
    // Finish even after a failed run, so the instance's pages are released.
    Status finish = p->Finish(0, std::move(*in));
    r.finish = lap();
    if (!run.ok())
      failed = Annotate(run, fmt::format("{}: Run", policy));
    else if (!finish.ok())
      failed = Annotate(finish, fmt::format("{}: Finish", policy));
  }
  r.evictions = driver.stats().evictions - evictions_before;
  // Shut down even after a failed request, so the policy releases what it
  // made; the request's error is the one to report.
  Status shutdown = p->Shutdown(0);
  CONFIDE_RETURN_IF_ERROR(failed);
  CONFIDE_RETURN_IF_ERROR(Annotate(shutdown, fmt::format("{}: Shutdown", policy)));
  return r;
}

double PageSeconds(double pages) {
  // Measured on the project's 2-core machine: building and evicting a page
  // of a cost-only enclave takes about 3 microseconds.
  return pages * 3e-6;
}

std::string OneLine(const Error& e) {
  std::string s = e.ToString();
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

}  // namespace confide::experiments
