// policy_base.h — the part of every start policy that is the same: its name,
// workload and options, signing its images once, and the instance
// operations. Internal to src/platform/policy.
//
// Thread-safety: as StartPolicy (one thread at a time).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "platform/enclave_builder.h"
#include "platform/instance_ops.h"
#include "platform/policy/start_policy.h"

namespace confide::platform::policy {

class PolicyBase : public StartPolicy {
 public:
  PolicyBase(std::string name, PolicyContext& ctx, const WorkloadProfile& workload,
             const PolicyOptions& options);
  std::string_view name() const override { return name_; }
  const WorkloadProfile& workload() const override { return workload_; }
  Status Prepare(CoreId) override { return OkStatus(); }
  Status Shutdown(CoreId) override { return OkStatus(); }

 protected:
  machine::Machine& m() { return *ctx_.machine; }
  EpcDriver& driver() { return *ctx_.driver; }

  // Builds `spec` signed over its measurement (the SIGSTRUCT is cached by
  // spec name: a policy signs each of its images once).
  StatusOr<BuiltEnclave> Build(CoreId core, const EnclaveSpec& spec, const BuildOptions& options);
  StatusOr<machine::Sigstruct> SigFor(const EnclaveSpec& spec);
  // Build + InstanceOps::Describe.
  StatusOr<std::unique_ptr<Instance>> BuildInstance(CoreId core, const EnclaveSpec& spec,
                                                    const BuildOptions& options = {});
  Status Execute(CoreId core, Instance& in) {
    return ops_.Execute(core, in, workload_.exec_cycles);
  }

  std::string name_;
  PolicyContext& ctx_;
  WorkloadProfile workload_;
  PolicyOptions options_;
  InstanceOps ops_;

 private:
  std::vector<std::pair<std::string, machine::Sigstruct>> sigs_;
};

}  // namespace confide::platform::policy
