// dynamic.cc — SGX2 dynamic memory management: EAUG, EMODPR, EMODT (ENCLS)
// and EACCEPT, EACCEPTCOPY, EMODPE (ENCLU) (Intel SDM Vol. 3D §40.3-40.4,
// §39.5 "Enclave Dynamic Memory Management").
//
// PIE (ISCA'21 §IV-D): SGX2 instructions are refused on plugin enclaves, and
// EACCEPTCOPY from a mapped PT_SREG page is the second half of copy-on-write.

#include <algorithm>

#include <fmt/format.h>

#include "machine/machine.h"
#include "machine/machine_internal.h"

namespace confide::machine {
namespace {

tl::unexpected<Error> Gp(Instruction i, const std::string& why) {
  return FaultStatus(FaultVector::kGP, 0, fmt::format("{}: {}", Info(i).name, why));
}

tl::unexpected<Error> Pf(Instruction i, uint64_t address, const std::string& why) {
  return FaultStatus(FaultVector::kPF, address, fmt::format("{}: {}", Info(i).name, why));
}

tl::unexpected<Error> Immutable(Instruction i) {
  return SgxErrorStatus(SgxError::kPluginImmutable,
                        fmt::format("{}: plugin enclaves are immutable (PIE IV-D)", Info(i).name));
}

// True if every thread inside `e` entered after the ETRACK that followed the
// EPCM change made at `change_epoch` (SDM §39.5.1: EACCEPT after EMODPR/EMODT
// needs the tracking cycle to be complete).
bool Tracked(const EnclaveState& e, uint64_t change_epoch) {
  if (e.epoch <= change_epoch) return false;
  return e.inside_epochs.empty() || *e.inside_epochs.begin() > change_epoch;
}

// The private page of `e` at `linaddr` and its EPCM entry; #PF if none.
// REQUIRES: holding e.mu.
StatusOr<std::pair<EpcPage, EpcmEntry>> PrivatePage(Machine& m, EnclaveState& e, uint64_t linaddr,
                                                    Instruction i) {
  auto it = e.pages.find(linaddr);
  if (it == e.pages.end())
    return Pf(i, linaddr, fmt::format("no page of this enclave at 0x{:x}", linaddr));
  CONFIDE_ASSIGN_OR_RETURN(EpcmEntry entry, MachineOps::ReadEpcm(m, it->second));
  return std::make_pair(it->second, entry);
}

// The shared start of EMODPR and EMODT: a valid page, not SECS or VA, of an
// initialized enclave that is not a plugin (PIE). On success the enclave is
// locked and `entry` is read under that lock.
struct PageChange {
  std::shared_ptr<EnclaveState> enclave;
  std::unique_lock<std::mutex> lock;
  EpcmEntry entry;
};

StatusOr<PageChange> BeginPageChange(Machine& m, EpcPage page, Instruction i) {
  CONFIDE_ASSIGN_OR_RETURN(EpcmEntry entry, MachineOps::ReadEpcm(m, page));
  if (!entry.valid) return Pf(i, Epc::Address(page), PageName(page) + " is not valid");
  if (entry.type == PageType::kSecs || entry.type == PageType::kVa)
    return SgxErrorStatus(
        SgxError::kPageNotModifiable,
        fmt::format("{}: {} is a {}", Info(i).name, PageName(page), PageTypeName(entry.type)));
  PageChange change;
  CONFIDE_ASSIGN_OR_RETURN(change.enclave, MachineOps::LookupSecs(m, entry.owner));
  change.lock = std::unique_lock(change.enclave->mu);
  if (!change.enclave->initialized) return Gp(i, "enclave is not initialized");
  if (change.enclave->kind == EnclaveKind::kPlugin) return Immutable(i);
  CONFIDE_ASSIGN_OR_RETURN(change.entry, MachineOps::ReadEpcm(m, page));
  return change;
}

}  // namespace

Status Machine::Eaug(CoreId core, EpcPage secs_page, uint64_t linaddr, EpcPage page) {
  constexpr Instruction kI = Instruction::kEaug;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EnclsCore(*this, core, kI));
  if (linaddr % kPageSize)
    return Gp(kI, fmt::format("linear address 0x{:x} not page aligned", linaddr));
  CONFIDE_ASSIGN_OR_RETURN(EnclaveState * e, MachineOps::LookupSecs(*this, *c, secs_page));
  std::lock_guard lock(e->mu);
  if (e->removed) return Pf(kI, Epc::Address(secs_page), "SECS was removed");
  if (!e->initialized) return Gp(kI, "enclave is not initialized");
  if (e->kind == EnclaveKind::kPlugin) return Immutable(kI);
  if (!e->Contains(linaddr))
    return Gp(kI, fmt::format("linear address 0x{:x} is outside ELRANGE", linaddr));
  // PIE §IV-E: the CPU checks the address is not occupied by a private page.
  // An address covered by a mapped plugin is allowed: that is copy-on-write.
  if (e->pages.count(linaddr) || e->evicted.count(linaddr))
    return SgxErrorStatus(SgxError::kVaConflict,
                          fmt::format("EAUG: linear address 0x{:x} already has a page", linaddr));
  EpcmEntry entry;
  entry.type = PageType::kReg;
  entry.perms = secinfo::kR | secinfo::kW;
  entry.pending = true;
  entry.linaddr = linaddr;
  entry.owner = secs_page;
  CONFIDE_RETURN_IF_ERROR(MachineOps::ClaimPage(*this, page, entry, kI));
  if (!MachineOps::CostOnly(*this)) std::fill_n(epc_.mutable_bytes(page).begin(), kPageSize, 0);
  e->InsertPage(linaddr, page);
  e->children++;
  MachineOps::CountEvent(*c, *e, &PageEvents::pages_augmented);
  MachineOps::Charge(*this, *c, e, kI);
  return OkStatus();
}

Status Machine::Emodpr(CoreId core, const SecInfo& secinfo, EpcPage page) {
  constexpr Instruction kI = Instruction::kEmodpr;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EnclsCore(*this, core, kI));
  if (secinfo.reserved_bits_set()) return Gp(kI, "SECINFO reserved bits set");
  if ((secinfo.flags & secinfo::kW) && !(secinfo.flags & secinfo::kR))
    return Gp(kI, "SECINFO sets W without R");
  CONFIDE_ASSIGN_OR_RETURN(PageChange change, BeginPageChange(*this, page, kI));
  EnclaveState* e = change.enclave.get();
  EpcmEntry& entry = change.entry;
  if (entry.type != PageType::kReg || entry.pending || entry.modified)
    return SgxErrorStatus(
        SgxError::kPageNotModifiable,
        fmt::format("EMODPR: {} is {}{}{}", PageName(page), PageTypeName(entry.type),
                    entry.pending ? ", pending" : "", entry.modified ? ", modified" : ""));
  entry.perms &= secinfo.perms();
  entry.pr = true;
  entry.epoch = e->epoch;
  MachineOps::WriteEpcm(*this, page, entry);
  MachineOps::Charge(*this, *c, e, kI);
  return OkStatus();
}

Status Machine::Emodt(CoreId core, const SecInfo& secinfo, EpcPage page) {
  constexpr Instruction kI = Instruction::kEmodt;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EnclsCore(*this, core, kI));
  if (secinfo.reserved_bits_set()) return Gp(kI, "SECINFO reserved bits set");
  const PageType to = secinfo.page_type();
  if (to != PageType::kTcs && to != PageType::kTrim)
    return Gp(kI, fmt::format("cannot change a page to {}", PageTypeName(to)));
  if (secinfo.perms() != 0) return Gp(kI, "SECINFO permissions must be 0");
  CONFIDE_ASSIGN_OR_RETURN(PageChange change, BeginPageChange(*this, page, kI));
  EnclaveState* e = change.enclave.get();
  EpcmEntry& entry = change.entry;
  if ((entry.type != PageType::kReg && entry.type != PageType::kTcs) || entry.pending ||
      entry.modified || entry.pr)
    return SgxErrorStatus(SgxError::kPageNotModifiable,
                          fmt::format("EMODT: {} is {} or has a change pending", PageName(page),
                                      PageTypeName(entry.type)));
  if (entry.type == PageType::kTcs && e->tcs.count(page) && e->tcs[page].busy)
    return SgxErrorStatus(SgxError::kEnclaveAct, "EMODT: TCS is in use");
  entry.type = to;
  entry.perms = 0;
  entry.modified = true;
  entry.epoch = e->epoch;
  MachineOps::WriteEpcm(*this, page, entry);
  MachineOps::Charge(*this, *c, e, kI);
  return OkStatus();
}

Status Machine::Eaccept(CoreId core, const SecInfo& secinfo, uint64_t linaddr) {
  constexpr Instruction kI = Instruction::kEaccept;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EncluCore(*this, core, kI));
  if (linaddr % kPageSize) return Gp(kI, fmt::format("address 0x{:x} not page aligned", linaddr));
  if (secinfo.reserved_bits_set()) return Gp(kI, "SECINFO reserved bits set");
  EnclaveState& e = *c->enclave;
  std::lock_guard lock(e.mu);
  CONFIDE_ASSIGN_OR_RETURN(auto found, PrivatePage(*this, e, linaddr, kI));
  auto [page, entry] = found;
  auto mismatch = [&](const char* why) {
    return SgxErrorStatus(SgxError::kPageAttributesMismatch,
                          fmt::format("EACCEPT at 0x{:x}: {}", linaddr, why));
  };
  if (entry.type != secinfo.page_type()) return mismatch("page type differs from SECINFO");
  if (secinfo.flags & secinfo::kPending) {
    // Accepting an EAUG.
    if (!entry.pending || entry.modified) return mismatch("page is not pending");
    if (entry.perms != secinfo.perms()) return mismatch("permissions differ from SECINFO");
    entry.pending = false;
  } else if (secinfo.flags & secinfo::kModified) {
    // Accepting an EMODT.
    if (!entry.modified || entry.pending) return mismatch("page is not modified");
    if (!Tracked(e, entry.epoch))
      return SgxErrorStatus(SgxError::kNotTracked, "EACCEPT: EMODT not yet tracked by ETRACK");
    entry.modified = false;
    if (entry.type == PageType::kTcs) e.tcs[page] = TcsState{};
  } else if (secinfo.flags & secinfo::kPr) {
    // Accepting an EMODPR.
    if (!entry.pr || entry.pending || entry.modified)
      return mismatch("no permission restriction pending");
    if (entry.perms != secinfo.perms()) return mismatch("permissions differ from SECINFO");
    if (!Tracked(e, entry.epoch))
      return SgxErrorStatus(SgxError::kNotTracked, "EACCEPT: EMODPR not yet tracked by ETRACK");
    entry.pr = false;
  } else {
    return mismatch("SECINFO sets none of PENDING, MODIFIED, PR");
  }
  MachineOps::WriteEpcm(*this, page, entry);
  MachineOps::Charge(*this, *c, &e, kI);
  return OkStatus();
}

Status Machine::Eacceptcopy(CoreId core, const SecInfo& secinfo, uint64_t dest, uint64_t src) {
  constexpr Instruction kI = Instruction::kEacceptcopy;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EncluCore(*this, core, kI));
  if (dest % kPageSize || src % kPageSize) return Gp(kI, "addresses not page aligned");
  if (secinfo.reserved_bits_set()) return Gp(kI, "SECINFO reserved bits set");
  if (secinfo.page_type() != PageType::kReg) return Gp(kI, "SECINFO.PAGE_TYPE is not PT_REG");
  if ((secinfo.flags & secinfo::kW) && !(secinfo.flags & secinfo::kR))
    return Gp(kI, "SECINFO sets W without R");
  EnclaveState& e = *c->enclave;
  std::lock_guard lock(e.mu);
  CONFIDE_ASSIGN_OR_RETURN(auto found, PrivatePage(*this, e, dest, kI));
  auto [page, entry] = found;
  if (entry.type != PageType::kReg || !entry.pending || entry.modified)
    return SgxErrorStatus(
        SgxError::kPageAttributesMismatch,
        fmt::format("EACCEPTCOPY: destination 0x{:x} is not a pending PT_REG page", dest));
  // The source is whatever the enclave reads at `src`; the pending
  // destination itself is not readable, so when src == dest (copy-on-write)
  // the source is the mapped plugin page underneath.
  CONFIDE_ASSIGN_OR_RETURN(Translation from, MachineOps::Resolve(*this, e, src, true));
  if (!(from.perms & secinfo::kR)) return Pf(kI, src, "source page is not readable");
  if (!MachineOps::CostOnly(*this)) {
    ByteSpan bytes = epc_.bytes(from.page);
    std::copy(bytes.begin(), bytes.end(), epc_.mutable_bytes(page).begin());
  }
  entry.pending = false;
  entry.perms = secinfo.perms();
  MachineOps::WriteEpcm(*this, page, entry);
  if (from.shared) {
    MachineOps::CountEvent(*c, e, &PageEvents::cow_copies);
  }
  MachineOps::Charge(*this, *c, &e, kI);
  return OkStatus();
}

Status Machine::Emodpe(CoreId core, const SecInfo& secinfo, uint64_t linaddr) {
  constexpr Instruction kI = Instruction::kEmodpe;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EncluCore(*this, core, kI));
  if (linaddr % kPageSize) return Gp(kI, fmt::format("address 0x{:x} not page aligned", linaddr));
  if (secinfo.reserved_bits_set()) return Gp(kI, "SECINFO reserved bits set");
  if ((secinfo.flags & secinfo::kW) && !(secinfo.flags & secinfo::kR))
    return Gp(kI, "SECINFO sets W without R");
  EnclaveState& e = *c->enclave;
  std::lock_guard lock(e.mu);
  auto it = e.pages.find(linaddr);
  if (it == e.pages.end()) {
    // A mapped plugin page: PIE refuses SGX2 changes to plugins.
    auto t = MachineOps::Resolve(*this, e, linaddr, false);
    if (t.ok() && t->shared) return Immutable(kI);
    return Pf(kI, linaddr, fmt::format("no page of this enclave at 0x{:x}", linaddr));
  }
  CONFIDE_ASSIGN_OR_RETURN(EpcmEntry entry, MachineOps::ReadEpcm(*this, it->second));
  if (entry.type != PageType::kReg || entry.pending || entry.modified)
    return SgxErrorStatus(
        SgxError::kPageNotModifiable,
        fmt::format("EMODPE: page at 0x{:x} is {}{}{}", linaddr, PageTypeName(entry.type),
                    entry.pending ? ", pending" : "", entry.modified ? ", modified" : ""));
  entry.perms |= secinfo.perms();
  MachineOps::WriteEpcm(*this, it->second, entry);
  MachineOps::Charge(*this, *c, &e, kI);
  return OkStatus();
}

}  // namespace confide::machine
