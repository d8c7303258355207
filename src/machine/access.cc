// access.cc — memory accesses by enclave code, checked as the CPU checks
// them on a TLB fill (Intel SDM Vol. 3D §38.5 "Access-control requirements";
// PIE §IV-D for shared pages), and the OS side of PIE copy-on-write.
//
// Resolution of a linear address inside the current enclave's ELRANGE:
//   1. a private page of the enclave (not pending, not blocked, PT_REG);
//   2. otherwise a PT_SREG page of a plugin the enclave has EMAPped there;
//   3. otherwise #PF.
// A write that resolves to a shared page faults: the OS answers with EAUG and
// the enclave with EACCEPTCOPY (CopyOnWrite below).

#include <algorithm>

#include <fmt/format.h>

#include "machine/machine.h"
#include "machine/machine_internal.h"

namespace confide::machine {
namespace {

tl::unexpected<Error> Pf(uint64_t address, const std::string& why) {
  return FaultStatus(FaultVector::kPF, address, why);
}

}  // namespace

StatusOr<Translation> MachineOps::Resolve(Machine& m, EnclaveState& e, uint64_t linaddr,
                                          bool skip_pending_private) {
  if (!e.Contains(linaddr))
    return Pf(linaddr, fmt::format("0x{:x} is outside the enclave's ELRANGE", linaddr));
  const uint64_t page_addr = linaddr & ~uint64_t{kPageSize - 1};
  if (auto it = e.pages.find(page_addr); it != e.pages.end()) {
    CONFIDE_ASSIGN_OR_RETURN(EpcmEntry entry, ReadEpcm(m, it->second));
    if (!(entry.pending && skip_pending_private)) {
      if (entry.pending)
        return Pf(linaddr, fmt::format("page 0x{:x} is pending EACCEPT", page_addr));
      if (entry.blocked) return Pf(linaddr, fmt::format("page 0x{:x} is blocked", page_addr));
      if (entry.type != PageType::kReg && entry.type != PageType::kSreg)
        return Pf(linaddr, fmt::format("page 0x{:x} is {}, not accessible", page_addr,
                                       PageTypeName(entry.type)));
      return Translation{it->second, entry.perms, entry.type == PageType::kSreg};
    }
  }
  if (e.evicted.count(page_addr))
    return Pf(linaddr, fmt::format("page 0x{:x} is evicted (EWB)", page_addr));
  auto mapping = e.mappings.upper_bound(page_addr);
  if (mapping != e.mappings.begin() && std::prev(mapping)->second.end > page_addr) {
    EnclaveState& plugin = *std::prev(mapping)->second.plugin;
    std::lock_guard lock(plugin.mu);
    auto pit = plugin.pages.find(page_addr);
    if (pit == plugin.pages.end())
      return Pf(linaddr, fmt::format("plugin page 0x{:x} is not resident", page_addr));
    CONFIDE_ASSIGN_OR_RETURN(EpcmEntry entry, ReadEpcm(m, pit->second));
    if (entry.blocked) return Pf(linaddr, fmt::format("plugin page 0x{:x} is blocked", page_addr));
    return Translation{pit->second, entry.perms, true};
  }
  return Pf(linaddr, fmt::format("no enclave page at 0x{:x}", page_addr));
}

StatusOr<Translation> Machine::Translate(CoreId core, uint64_t linaddr) const {
  // SAFETY of the const_cast: translation only takes locks and reads state.
  Machine& self = const_cast<Machine&>(*this);
  const Core* c = MachineOps::CoreAt(*this, core);
  if (!c || !c->in_enclave()) return FaultStatus(FaultVector::kGP, 0, "not in enclave mode");
  std::lock_guard lock(c->enclave->mu);
  return MachineOps::Resolve(self, *c->enclave, linaddr, false);
}

Status Machine::Read(CoreId core, uint64_t linaddr, MutableByteSpan out) {
  Core* c = MachineOps::CoreAt(*this, core);
  if (!c || !c->in_enclave()) return FaultStatus(FaultVector::kGP, 0, "read: not in enclave mode");
  std::lock_guard lock(c->enclave->mu);
  size_t done = 0;
  while (done < out.size()) {
    const uint64_t addr = linaddr + done;
    CONFIDE_ASSIGN_OR_RETURN(Translation t, MachineOps::Resolve(*this, *c->enclave, addr, false));
    if (!(t.perms & secinfo::kR))
      return Pf(addr, fmt::format("page at 0x{:x} is not readable", addr));
    const size_t off = addr % kPageSize;
    const size_t n = std::min(out.size() - done, kPageSize - off);
    if (MachineOps::CostOnly(*this)) {
      std::fill_n(out.begin() + done, n, 0);  // cost-only pages hold no bytes
    } else {
      std::copy_n(epc_.bytes(t.page).begin() + off, n, out.begin() + done);
    }
    done += n;
  }
  return OkStatus();
}

Status Machine::Write(CoreId core, uint64_t linaddr, ByteSpan data) {
  Core* c = MachineOps::CoreAt(*this, core);
  if (!c || !c->in_enclave()) return FaultStatus(FaultVector::kGP, 0, "write: not in enclave mode");
  std::lock_guard lock(c->enclave->mu);
  size_t done = 0;
  while (done < data.size()) {
    const uint64_t addr = linaddr + done;
    CONFIDE_ASSIGN_OR_RETURN(Translation t, MachineOps::Resolve(*this, *c->enclave, addr, false));
    if (t.shared)
      return Pf(addr, fmt::format("write to shared plugin page at 0x{:x}: copy-on-write", addr));
    if (!(t.perms & secinfo::kW))
      return Pf(addr, fmt::format("page at 0x{:x} is not writable", addr));
    const size_t off = addr % kPageSize;
    const size_t n = std::min(data.size() - done, kPageSize - off);
    if (!MachineOps::CostOnly(*this))
      std::copy_n(data.begin() + done, n, epc_.mutable_bytes(t.page).begin() + off);
    done += n;
  }
  return OkStatus();
}

Status Machine::CopyOnWrite(CoreId core, EpcPage tcs, uint64_t linaddr, EpcPage free_page) {
  const uint64_t page_addr = linaddr & ~uint64_t{kPageSize - 1};
  CONFIDE_ASSIGN_OR_RETURN(Translation t, Translate(core, page_addr));
  if (!t.shared)
    return FailedPreconditionError(
        fmt::format("copy-on-write at 0x{:x}: the page is not a shared plugin page", page_addr));
  const EpcPage host = *CurrentEnclave(core);
  // The write faulted: the core leaves the enclave (AEX), the OS adds a
  // pending page at the address, and the enclave resumes to copy into it.
  CONFIDE_RETURN_IF_ERROR(Aex(core));
  Status aug = Eaug(core, host, page_addr, free_page);
  CONFIDE_RETURN_IF_ERROR(Eresume(core, tcs));
  CONFIDE_RETURN_IF_ERROR(aug);
  const SecInfo copy =
      SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kW | (t.perms & secinfo::kX));
  return Eacceptcopy(core, copy, page_addr, page_addr);
}

}  // namespace confide::machine
