#include "platform/policy/start_policy.h"

#include <fmt/format.h>

#include "platform/policy/policies.h"

namespace confide::platform {

namespace {

struct Entry {
  const char* name;
  policy::PolicyFactory make;
};

constexpr Entry kPolicies[] = {
    {"sgx1-cold", policy::MakeSgx1Cold}, {"sgx1-swhash", policy::MakeSgx1SwHash},
    {"sgx2-eaug", policy::MakeSgx2Eaug}, {"clemmys-batch", policy::MakeClemmysBatch},
    {"enturbo", policy::MakeEnturbo},    {"template-fork", policy::MakeTemplateFork},
    {"sgx-warm", policy::MakeSgxWarm},   {"pie-cold", policy::MakePieCold},
    {"pie-warm", policy::MakePieWarm},
};

constexpr const char* kWorkNames[kSoftwareWorkCount] = {"hash",   "zero",    "copy", "transfer",
                                                        "attest", "execute", "reset"};

}  // namespace

std::string_view SoftwareWorkName(SoftwareWork w) { return kWorkNames[static_cast<size_t>(w)]; }

uint64_t SoftwareCounters::total() const {
  uint64_t t = 0;
  for (uint64_t c : cycles) t += c;
  return t;
}

void PolicyContext::ChargeSoftware(CoreId core, SoftwareWork kind, uint64_t n) {
  machine->SetCoreCycles(core, machine->CoreCycles(core) + n);
  software_counters.cycles[static_cast<size_t>(kind)] += n;
}

const std::vector<std::string>& PolicyNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const Entry& e : kPolicies) v.push_back(e.name);
    return v;
  }();
  return names;
}

const std::vector<std::string>& RealPolicyNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const std::string& n : PolicyNames())
      if (n != "template-fork") v.push_back(n);
    return v;
  }();
  return names;
}

StatusOr<std::unique_ptr<StartPolicy>> MakePolicy(std::string_view name, PolicyContext& ctx,
                                                  const WorkloadProfile& workload,
                                                  const PolicyOptions& options) {
  if (!ctx.machine || !ctx.driver)
    return InvalidArgumentError("policy context needs a machine and a driver");
  if (ctx.executor && !workload.real)
    return InvalidArgumentError(
        "a policy with an executor needs a real workload (real_workload.h)");
  for (const Entry& e : kPolicies) {
    if (name != e.name) continue;
    if (workload.real && name == "template-fork") {
      return UnimplementedError(
          fmt::format("start policy \"{}\" runs in the model only; real functions start with {}",
                      name, fmt::join(RealPolicyNames(), ", ")));
    }
    return e.make(ctx, workload, options);
  }
  return NotFoundError(
      fmt::format("no start policy \"{}\" (known: {})", name, fmt::join(PolicyNames(), ", ")));
}

StatusOr<uint64_t> ServeOne(PolicyContext& ctx, StartPolicy& policy, CoreId core) {
  const uint64_t before = ctx.machine->CoreCycles(core);
  CONFIDE_ASSIGN_OR_RETURN(std::unique_ptr<Instance> instance, policy.Start(core));
  Status run = policy.Run(core, *instance);
  const uint64_t responded = ctx.machine->CoreCycles(core);
  // Finish even after a failed run, so the instance's pages are released.
  Status finish = policy.Finish(core, std::move(instance));
  CONFIDE_RETURN_IF_ERROR(run);
  CONFIDE_RETURN_IF_ERROR(finish);
  return responded - before;
}

}  // namespace confide::platform
