#include "platform/policy/policy_base.h"

namespace confide::platform::policy {

PolicyBase::PolicyBase(std::string name, PolicyContext& ctx, const WorkloadProfile& workload,
                       const PolicyOptions& options)
    : name_(std::move(name)), ctx_(ctx), workload_(workload), options_(options), ops_(ctx) {}

StatusOr<machine::Sigstruct> PolicyBase::SigFor(const EnclaveSpec& spec) {
  for (const auto& [name, sig] : sigs_)
    if (name == spec.name) return sig;
  if (!ctx_.signing_key) return FailedPreconditionError("policy context has no signing key");
  CONFIDE_ASSIGN_OR_RETURN(machine::Sigstruct sig,
                           SignSpec(spec, ctx_.machine->page_contents(), *ctx_.signing_key));
  sigs_.emplace_back(spec.name, sig);
  return sig;
}

StatusOr<BuiltEnclave> PolicyBase::Build(CoreId core, const EnclaveSpec& spec,
                                         const BuildOptions& options) {
  CONFIDE_ASSIGN_OR_RETURN(machine::Sigstruct sig, SigFor(spec));
  return BuildEnclave(driver(), core, spec, sig, options, ctx_.yield);
}

StatusOr<std::unique_ptr<Instance>> PolicyBase::BuildInstance(CoreId core, const EnclaveSpec& spec,
                                                              const BuildOptions& options) {
  CONFIDE_ASSIGN_OR_RETURN(BuiltEnclave e, Build(core, spec, options));
  auto in = std::make_unique<Instance>();
  InstanceOps::Describe(e, spec, in.get());
  return in;
}

}  // namespace confide::platform::policy
