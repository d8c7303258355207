// sgx1.cc — the SGX1 policies: sgx1-cold (SGX: every page EADDed and
// EEXTENDed), sgx1-swhash (PIE §III-B/§III-C: EADD, contents hashed in
// software by a measured loader page, heap zeroed instead of measured), and
// sgx-warm (PIE §VI's SGX warm start: a pool of sgx1-swhash enclaves, reset
// between invocations).
//
// The SGX1 enclave reserves its whole heap at creation (sgx_heap_pages): it
// cannot grow later. Run touches the data and the heap the function uses, so
// pages evicted since creation come back by ELDU.

#include <deque>

#include "platform/policy/policies.h"
#include "platform/policy/policy_base.h"
#include "platform/real_workload.h"

namespace confide::platform::policy {
namespace {

class Sgx1Policy : public PolicyBase {
 public:
  enum class Flavor { kCold, kSwHash, kWarm };
  Sgx1Policy(std::string name, Flavor flavor, PolicyContext& ctx, const WorkloadProfile& w,
             const PolicyOptions& o)
      : PolicyBase(std::move(name), ctx, w, o), flavor_(flavor) {
    SpecParams p;
    p.name = workload_.name + (flavor == Flavor::kCold ? "/sgx1" : "/sgx1-swhash");
    p.base = kEnclaveBase;  // a real workload has its own (real_workload.h)
    p.code_pages = workload_.code_pages();
    p.data_pages = workload_.data_pages;
    p.heap_pages = workload_.sgx_heap_pages;
    p.stack_pages = options_.stack_pages;
    p.heap_added = true;
    p.heap_measured = flavor == Flavor::kCold;
    p.code_measured = flavor == Flavor::kCold;
    spec_ = WorkloadHostSpec(workload_, p);
    if (flavor != Flavor::kCold) {
      // The loader: the first code page, measured by hardware; it hashes the rest.
      Region& code = spec_.regions.front();
      Region loader = code;
      loader.pages = 1;
      loader.measured = true;
      code.offset += kPageSize;
      code.pages -= 1;
      spec_.regions.insert(spec_.regions.begin(), loader);
    }
  }

  Status Prepare(CoreId core) override {
    for (uint32_t i = 0; flavor_ == Flavor::kWarm && i < options_.pool_size; ++i) {
      CONFIDE_ASSIGN_OR_RETURN(std::unique_ptr<Instance> in, Create(core));
      in->pooled = true;
      pool_.push_back(std::move(in));
    }
    return OkStatus();
  }

  StatusOr<std::unique_ptr<Instance>> Start(CoreId core) override {
    if (flavor_ == Flavor::kWarm && !pool_.empty()) {
      std::unique_ptr<Instance> in = std::move(pool_.front());
      pool_.pop_front();
      return std::unique_ptr<Instance>(std::move(in));
    }
    CONFIDE_ASSIGN_OR_RETURN(std::unique_ptr<Instance> in, Create(core));
    return std::unique_ptr<Instance>(std::move(in));
  }

  Status Run(CoreId core, Instance& instance) override {
    Instance& in = instance;
    CONFIDE_RETURN_IF_ERROR(ops_.Enter(core, in));
    CONFIDE_RETURN_IF_ERROR(ops_.Touch(core, in, in.data_linaddr, workload_.data_pages));
    CONFIDE_RETURN_IF_ERROR(ops_.Touch(core, in, in.heap_linaddr, workload_.heap_pages));
    CONFIDE_RETURN_IF_ERROR(Execute(core, in));
    return ops_.Exit(core, in);
  }

  Status Finish(CoreId core, std::unique_ptr<Instance> instance) override {
    if (flavor_ != Flavor::kWarm || instance->tainted) return ops_.Destroy(core, *instance);
    // A real function's enclave gets its initial bytes back, runtime
    // state included; a synthetic one is charged its zeroing.
    Status reset = workload_.real
                       ? ops_.Restore(core, *instance, spec_)
                       : ops_.Reset(core, *instance, workload_.data_pages, workload_.heap_pages);
    if (!reset.ok()) {
      // An instance that cannot be reset must not serve again.
      (void)ops_.Destroy(core, *instance);
      return reset;
    }
    pool_.push_back(std::move(instance));
    return OkStatus();
  }

  Status Shutdown(CoreId core) override {
    Status first;
    for (; !pool_.empty(); pool_.pop_front()) {
      Status s = ops_.Destroy(core, *pool_.front());
      if (first.ok() && !s.ok()) first = s;
    }
    return first;
  }

 private:
  StatusOr<std::unique_ptr<Instance>> Create(CoreId core) {
    CONFIDE_ASSIGN_OR_RETURN(std::unique_ptr<Instance> in, BuildInstance(core, spec_));
    if (flavor_ != Flavor::kCold) {
      // The measured loader hashes code and data and zeroes the heap
      // before anything else runs.
      CONFIDE_RETURN_IF_ERROR(ops_.Enter(core, *in));
      ctx_.ChargeSoftware(core, SoftwareWork::kHash,
                          (workload_.code_pages() - 1 + workload_.data_pages) *
                              ctx_.software.sha256_cycles_per_page);
      ctx_.ChargeSoftware(core, SoftwareWork::kZero,
                          workload_.sgx_heap_pages * ctx_.software.zero_cycles_per_page);
      CONFIDE_RETURN_IF_ERROR(ops_.Exit(core, *in));
    }
    return in;
  }

  Flavor flavor_;
  EnclaveSpec spec_;
  std::deque<std::unique_ptr<Instance>> pool_;
};

}  // namespace

std::unique_ptr<StartPolicy> MakeSgx1Cold(PolicyContext& c, const WorkloadProfile& w,
                                          const PolicyOptions& o) {
  return std::make_unique<Sgx1Policy>("sgx1-cold", Sgx1Policy::Flavor::kCold, c, w, o);
}
std::unique_ptr<StartPolicy> MakeSgx1SwHash(PolicyContext& c, const WorkloadProfile& w,
                                            const PolicyOptions& o) {
  return std::make_unique<Sgx1Policy>("sgx1-swhash", Sgx1Policy::Flavor::kSwHash, c, w, o);
}
std::unique_ptr<StartPolicy> MakeSgxWarm(PolicyContext& c, const WorkloadProfile& w,
                                         const PolicyOptions& o) {
  return std::make_unique<Sgx1Policy>("sgx-warm", Sgx1Policy::Flavor::kWarm, c, w, o);
}

}  // namespace confide::platform::policy
