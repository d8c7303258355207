// sgx2.cc — the SGX2 policies.
//
// sgx2-eaug (PIE §III-A, "SGX2 EAUG + EACCEPT"): the image is a one-page
// measured loader (plus TCS, SSA, stack). The loader asks the OS to EAUG the
// code and data, EACCEPTs each page, copies and hashes its contents in
// software, and makes code pages executable and read-only: EMODPE adds X
// (inside), the OS's EMODPR removes W and ETRACKs, and the enclave EACCEPTs
// the restriction (PIE: "97~103K cycles" per code page with the exits). The
// heap grows on demand, one page per fault (AEX, EAUG, ERESUME, EACCEPT).
//
// clemmys-batch (Clemmys, SYSTOR'19, "EPC batch augmentation"): code and data
// EADDed and measured as in SGX1, but no heap at creation: the heap grows in
// batches of PolicyOptions::eaug_batch pages per fault, and pages come zeroed
// from EAUG, so freed memory needs no software zeroing (zero-on-free).

#include "platform/policy/policies.h"
#include "platform/policy/policy_base.h"
#include "platform/real_workload.h"

namespace confide::platform::policy {
namespace {

using machine::PageType;
using machine::SecInfo;
namespace secinfo = machine::secinfo;

class Sgx2Policy : public PolicyBase {
 public:
  Sgx2Policy(std::string name, bool batch, PolicyContext& ctx, const WorkloadProfile& w,
             const PolicyOptions& o)
      : PolicyBase(std::move(name), ctx, w, o), batch_(batch) {
    SpecParams p;
    p.name = workload_.name + (batch ? "/clemmys" : "/sgx2");
    p.base = kEnclaveBase;
    p.code_pages = workload_.code_pages();
    p.data_pages = workload_.data_pages;
    p.heap_pages = workload_.heap_pages;
    p.stack_pages = options_.stack_pages;
    p.heap_added = false;
    spec_ = WorkloadHostSpec(workload_, p);
    if (!batch) {
      // Only the loader page is in the image; code and data come by EAUG.
      Region& code = spec_.regions.front();
      Region loader = code;
      loader.pages = 1;
      code.offset += kPageSize;
      code.pages -= 1;
      for (Region& r : spec_.regions)
        if (r.kind == RegionKind::kCode || r.kind == RegionKind::kData)
          r.added = r.measured = false;
      spec_.regions.insert(spec_.regions.begin(), loader);
    }
  }

  StatusOr<std::unique_ptr<Instance>> Start(CoreId core) override {
    CONFIDE_ASSIGN_OR_RETURN(std::unique_ptr<Instance> in, BuildInstance(core, spec_));
    if (!batch_) {
      Status s = LoadDynamic(core, *in);
      if (!s.ok()) {
        (void)ops_.Destroy(core, *in);
        return tl::unexpected(s.error());
      }
    }
    return std::unique_ptr<Instance>(std::move(in));
  }

  Status Run(CoreId core, Instance& instance) override {
    Instance& in = instance;
    CONFIDE_RETURN_IF_ERROR(ops_.Enter(core, in));
    CONFIDE_RETURN_IF_ERROR(ops_.Touch(core, in, in.data_linaddr, workload_.data_pages));
    if (in.heap_committed < workload_.heap_pages)
      CONFIDE_RETURN_IF_ERROR(ops_.GrowHeap(core, in, workload_.heap_pages - in.heap_committed,
                                            batch_ ? options_.eaug_batch : 1));
    CONFIDE_RETURN_IF_ERROR(Execute(core, in));
    return ops_.Exit(core, in);
  }

  Status Finish(CoreId core, std::unique_ptr<Instance> instance) override {
    return ops_.Destroy(core, *instance);
  }

 private:
  // EAUG + EACCEPT + copy + hash of the code and data; code pages then made
  // R+X by EMODPE, EMODPR, ETRACK and EACCEPT. In batches of 64 pages.
  Status LoadDynamic(CoreId core, Instance& in) {
    const SecInfo rwx = SecInfo::Make(PageType::kReg, secinfo::kRwx);
    const SecInfo rx = SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kX);
    const SecInfo rx_pr = SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kX | secinfo::kPr);
    const uint64_t page_work =
        ctx_.software.sha256_cycles_per_page +
        static_cast<uint64_t>(kPageSize * ctx_.software.copy_cycles_per_byte);
    CONFIDE_RETURN_IF_ERROR(ops_.Enter(core, in));
    for (const Region& r : spec_.regions) {
      if (r.added || (r.kind != RegionKind::kCode && r.kind != RegionKind::kData)) continue;
      const bool code = r.kind == RegionKind::kCode;
      for (uint64_t done = 0; done < r.pages; done += 64) {
        const uint64_t n = std::min<uint64_t>(64, r.pages - done);
        const uint64_t first = in.base + r.offset + done * kPageSize;
        CONFIDE_RETURN_IF_ERROR(ops_.Augment(core, in, first, n, [&](uint64_t a) -> Status {
          // The loader copies the page in (real bytes, if the spec has them).
          if (spec_.contents) CONFIDE_RETURN_IF_ERROR(CopyIn(core, a));
          ctx_.ChargeSoftware(core, SoftwareWork::kHash, page_work);
          return code ? m().Emodpe(core, rwx, a) : OkStatus();
        }));
        if (code) {
          // The OS restricts W, tracks, and the enclave accepts on re-entry.
          CONFIDE_RETURN_IF_ERROR(ops_.Exit(core, in));
          for (uint64_t i = 0; i < n; ++i) {
            CONFIDE_ASSIGN_OR_RETURN(EpcPage p,
                                     driver().Resident(core, in.secs, first + i * kPageSize));
            CONFIDE_RETURN_IF_ERROR(m().Emodpr(core, rx, p));
          }
          CONFIDE_RETURN_IF_ERROR(m().Etrack(core, in.secs));
          CONFIDE_RETURN_IF_ERROR(ops_.Enter(core, in));
          for (uint64_t i = 0; i < n; ++i) {
            CONFIDE_RETURN_IF_ERROR(ops_.Touch(core, in, first + i * kPageSize, 1));
            CONFIDE_RETURN_IF_ERROR(m().Eaccept(core, rx_pr, first + i * kPageSize));
          }
        }
        CONFIDE_RETURN_IF_ERROR(ops_.Yield(core, in));
      }
    }
    return ops_.Exit(core, in);
  }

  // The real bytes of the page at `linaddr`, written by the loader from
  // inside (the page is EACCEPTed and writable).
  Status CopyIn(CoreId core, uint64_t linaddr) {
    auto it = spec_.contents->find(linaddr - spec_.base);
    if (it == spec_.contents->end()) return OkStatus();  // EAUG gave zeros
    return m().Write(core, linaddr, it->second);
  }

  bool batch_;
  EnclaveSpec spec_;
};

}  // namespace

std::unique_ptr<StartPolicy> MakeSgx2Eaug(PolicyContext& c, const WorkloadProfile& w,
                                          const PolicyOptions& o) {
  return std::make_unique<Sgx2Policy>("sgx2-eaug", false, c, w, o);
}
std::unique_ptr<StartPolicy> MakeClemmysBatch(PolicyContext& c, const WorkloadProfile& w,
                                              const PolicyOptions& o) {
  return std::make_unique<Sgx2Policy>("clemmys-batch", true, c, w, o);
}

}  // namespace confide::platform::policy
