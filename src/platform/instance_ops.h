// instance_ops.h — what start policies and chains do the same way to an
// instance: entering and leaving it, going out to the OS for a page (AEX,
// driver, ERESUME) while inside, touching pages (reloading evicted ones),
// growing the heap by EAUG, executing, copy-on-write of plugin pages, and
// destroying it.
//
// Thread-safety: as the EpcDriver (one thread at a time).
#pragma once

#include <functional>
#include <vector>

#include "platform/enclave_builder.h"
#include "platform/policy/start_policy.h"

namespace confide::platform {

// The base address of every enclave: aligned to any power-of-two size up to
// 1 TiB, so one constant serves every layout.
inline constexpr uint64_t kEnclaveBase = uint64_t{1} << 40;

class InstanceOps {
 public:
  explicit InstanceOps(PolicyContext& ctx) : ctx_(ctx) {}

  // Fills an Instance's addresses from a built enclave and its spec.
  static void Describe(const BuiltEnclave& e, const EnclaveSpec& spec, Instance* in);

  // EENTER (pinning the instance so the driver leaves its pages in; nothing
  // if already entered) / EEXIT.
  Status Enter(CoreId core, Instance& in);
  Status Exit(CoreId core, Instance& in);
  // Runs `os` outside the enclave: AEX before and ERESUME after if the
  // instance is entered (the OS cannot issue ENCLS in enclave mode).
  Status OutToOs(CoreId core, Instance& in, const std::function<Status()>& os);
  // A free EPC page for the instance, going out to the OS if eviction is needed.
  StatusOr<EpcPage> AllocateFor(CoreId core, Instance& in);
  // Makes `pages` pages from `linaddr` resident (a touch): evicted ones are
  // loaded back by the OS after an AEX.
  Status Touch(CoreId core, Instance& in, uint64_t linaddr, uint64_t pages);
  // SGX2: while entered, a fault (AEX) after which the OS EAUGs `pages`
  // pages from `first`, ERESUME, and the enclave's EACCEPT of each, followed
  // by `accepted(linaddr)` if given (e.g. to copy contents in).
  Status Augment(CoreId core, Instance& in, uint64_t first, uint64_t pages,
                 const std::function<Status(uint64_t)>& accepted = {});
  // SGX2 heap growth while entered: per batch of `batch` pages a fault (AEX),
  // EAUGs by the OS, ERESUME, and the enclave's EACCEPTs.
  Status GrowHeap(CoreId core, Instance& in, uint64_t pages, uint32_t batch);
  // `cycles` of execution inside `in`, charged in slices with a Yield after
  // each (the last included, so other cores catch up before this one's next
  // visible step).
  Status Execute(CoreId core, Instance& in, uint64_t cycles);
  // Lets the simulator run other cores (PolicyContext::yield). If `in` is
  // entered, the core switch is an interrupt: AEX, the enclave is unpinned
  // while its thread is out (its pages may be evicted, as a timer tick
  // allows on real hardware), then ERESUME. Without a simulator: nothing.
  Status Yield(CoreId core, Instance& in);
  // Copy-on-write of `count` plugin pages spread over `plugins` (each
  // plugin's first pages, in proportion to its size). REQUIRES: entered.
  Status CopyOnWrite(CoreId core, Instance& in, const std::vector<BuiltEnclave>& plugins,
                     uint64_t count);
  // Copy-on-write of `pages` pages of `plugin` from `linaddr`. REQUIRES: entered.
  Status CopyRange(CoreId core, Instance& in, const BuiltEnclave& plugin, uint64_t linaddr,
                   uint64_t pages);
  // A warm instance's reset: zeroes (inside the enclave, at
  // software.reset_cycles_per_page) the data and heap pages a function may
  // have dirtied, so the next tenant sees nothing of this one (PIE §III-B).
  Status Reset(CoreId core, Instance& in, uint64_t data_pages, uint64_t heap_pages);
  // A real instance's reset (real_workload.h): from inside, every page of
  // `spec` the enclave can write and has (its data, heap, SSA and stack; a
  // plugin's pages are not the host's) gets its initial bytes back, so the
  // next tenant finds the enclave as it was built: no byte of this tenant,
  // and the runtime's own state back at its start. Charged as the reset's
  // software work per page.
  Status Restore(CoreId core, Instance& in, const EnclaveSpec& spec);
  // Drops the copy-on-write pages (EREMOVE, PIE §V: 4.5K per page), so the
  // plugins show through again. REQUIRES: not entered.
  Status DropCopies(CoreId core, Instance& in);
  // EUNMAP of every mapped plugin (entered), then destroys the instance.
  Status Destroy(CoreId core, Instance& in);

 private:
  machine::Machine& m() { return *ctx_.machine; }
  EpcDriver& driver() { return *ctx_.driver; }
  PolicyContext& ctx_;
};

}  // namespace confide::platform
