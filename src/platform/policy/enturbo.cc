// enturbo.cc — EnTurbo (DAC'24): the enclave's measurement is split into one
// range per worker, and worker cores EEXTEND their ranges in parallel while
// the host core copies (EADD) the rest and then starts executing; EINIT
// merges the shadow measurements. The machine lets an EnTurbo enclave be
// entered before EINIT but refuses EEXIT, EREPORT and EGETKEY until it is
// initialized, so nothing leaves the enclave before its measurement is
// verified; the EEXIT after EINIT serializes behind it in virtual time. A
// real function (real_workload.h) runs on the monitor before EINIT too; its
// EEXIT waits for the EINIT (Instance::before_leave).
//
// Two variants, as in the paper: on SGX1 every page is EADDed and measured
// (like sgx1-cold); on SGX2 (PolicyOptions::enturbo_sgx2) code and data are
// measured and the heap grows by EAUG (like clemmys-batch) once EINIT is done.
//
// Worker w runs on core (core + 1 + w) mod cores, so the machine needs more
// cores than workers. The simulator does not run this policy: its workers
// would need cores that serve other requests.

#include <algorithm>

#include <fmt/format.h>

#include "machine/measurement.h"

#include "platform/policy/policies.h"
#include "platform/policy/policy_base.h"
#include "platform/real_workload.h"

namespace confide::platform::policy {
namespace {

class EnturboPolicy : public PolicyBase {
 public:
  EnturboPolicy(PolicyContext& ctx, const WorkloadProfile& w, const PolicyOptions& o)
      : PolicyBase("enturbo", ctx, w, o) {
    SpecParams p;
    p.name = fmt::format("{}/enturbo{}-{}", workload_.name, options_.enturbo_sgx2 ? "-sgx2" : "",
                         Workers());
    p.base = kEnclaveBase;
    p.code_pages = workload_.code_pages();
    p.data_pages = workload_.data_pages;
    p.heap_pages = options_.enturbo_sgx2 ? workload_.heap_pages : workload_.sgx_heap_pages;
    p.heap_added = !options_.enturbo_sgx2;
    p.stack_pages = options_.stack_pages;
    spec_ = WorkloadHostSpec(workload_, p);
    const uint64_t pages = spec_.size / kPageSize;
    const uint32_t workers = Workers();
    // Ranges cover the measured part evenly; unmeasured pages fall in
    // ranges but add only their EADD records.
    uint64_t measured_end = 0;
    for (const Region& r : spec_.regions)
      if (r.measured) measured_end = std::max(measured_end, (r.offset / kPageSize) + r.pages);
    spec_.measure_range_pages = static_cast<uint32_t>(
        std::max<uint64_t>(1, (std::min(measured_end, pages) + workers - 1) / workers));
  }

  StatusOr<std::unique_ptr<Instance>> Start(CoreId core) override {
    const uint32_t workers = Workers();
    if (workers + 1 > m().core_count())
      return InvalidArgumentError(
          fmt::format("enturbo: {} measurement workers need {} cores; the machine has {}", workers,
                      workers + 1, m().core_count()));
    // The workers start when the host does.
    const uint64_t t0 = m().CoreCycles(core);
    for (uint32_t w = 0; w < workers; ++w) {
      const CoreId wc = Worker(core, w);
      m().SetCoreCycles(wc, std::max(m().CoreCycles(wc), t0));
    }
    BuildOptions options;
    options.einit = false;
    options.measure = [&](EpcPage secs, uint64_t linaddr) -> Status {
      const uint64_t range = (linaddr - spec_.base) / kPageSize / spec_.measure_range_pages;
      const CoreId wc = Worker(core, static_cast<uint32_t>(range % workers));
      for (uint64_t c = 0; c < kPageSize; c += machine::kEextendChunkSize)
        CONFIDE_RETURN_IF_ERROR(m().Eextend(wc, secs, linaddr + c));
      return OkStatus();
    };
    return BuildInstance(core, spec_, options);
  }

  Status Run(CoreId core, Instance& instance) override {
    Instance& in = instance;
    // Execution overlaps measurement: enter before EINIT.
    CONFIDE_RETURN_IF_ERROR(ops_.Enter(core, in));
    CONFIDE_RETURN_IF_ERROR(ops_.Touch(core, in, in.data_linaddr, workload_.data_pages));
    if (options_.enturbo_sgx2) {
      // EAUG needs an initialized enclave (SDM EAUG: #GP if SECS.ATTRIBUTES.INIT
      // is clear), so on SGX2 the heap, and the execution that needs it, wait
      // for the (small) measurement of code and data.
      CONFIDE_RETURN_IF_ERROR(Verify(core, in));
      if (in.heap_committed < workload_.heap_pages)
        CONFIDE_RETURN_IF_ERROR(
            ops_.GrowHeap(core, in, workload_.heap_pages - in.heap_committed, options_.eaug_batch));
      CONFIDE_RETURN_IF_ERROR(Execute(core, in));
      return ops_.Exit(core, in);
    }
    // The output leaves only after verification: a real function's EEXIT
    // waits for it (the executor holds it back until then).
    in.before_leave = [this, core, &in] { return Verify(core, in); };
    CONFIDE_RETURN_IF_ERROR(Execute(core, in));
    in.before_leave = nullptr;
    CONFIDE_RETURN_IF_ERROR(Verify(core, in));
    return ops_.Exit(core, in);
  }

  Status Finish(CoreId core, std::unique_ptr<Instance> instance) override {
    return ops_.Destroy(core, *instance);
  }

 private:
  uint32_t Workers() const {
    if (options_.enturbo_workers > 0) return options_.enturbo_workers;
    return std::clamp<uint32_t>(ctx_.machine->core_count() - 1, 1, 8);
  }
  // EINIT by the first worker; the host core's clock then follows the
  // enclave's, since every later step on the enclave serializes behind EINIT.
  Status Verify(CoreId core, Instance& in) {
    CONFIDE_ASSIGN_OR_RETURN(machine::Secs secs, m().SecsOf(in.secs));
    if (secs.attributes.flags & machine::attr::kInit) return OkStatus();  // verified already
    CONFIDE_ASSIGN_OR_RETURN(machine::Sigstruct sig, SigFor(spec_));
    CONFIDE_RETURN_IF_ERROR(Annotate(m().Einit(Worker(core, 0), in.secs, sig), "enturbo EINIT"));
    const uint64_t verified = m().CoreCycles(Worker(core, 0));
    if (m().CoreCycles(core) < verified) m().SetCoreCycles(core, verified);
    return OkStatus();
  }
  CoreId Worker(CoreId core, uint32_t w) const {
    return static_cast<CoreId>((core + 1 + w) % ctx_.machine->core_count());
  }
  EnclaveSpec spec_;
};

}  // namespace

std::unique_ptr<StartPolicy> MakeEnturbo(PolicyContext& c, const WorkloadProfile& w,
                                         const PolicyOptions& o) {
  return std::make_unique<EnturboPolicy>(c, w, o);
}

}  // namespace confide::platform::policy
