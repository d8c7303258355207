// paging.cc — EPC paging: EPA, EBLOCK, ETRACK, EWB, ELDU, ELDB (Intel SDM
// Vol. 3D §39.5 "EPC and Management of EPC Pages", §40.3).
//
// EWB seals a page with AES-GCM under the machine's paging key. The MAC covers
// the page, its SECINFO (the EPCM state), its linear address, the enclave ID
// and a fresh 64-bit version; the version is kept in a VA slot inside the EPC.
// ELDU recomputes the MAC with the version from the slot and clears the slot,
// so a blob that was replaced or already loaded fails (anti-replay).
//
// Tracking: EBLOCK stamps the page with the enclave's epoch; ETRACK advances
// the epoch once every thread that entered before the previous ETRACK has
// left; EWB needs an ETRACK after the EBLOCK and no thread inside that entered
// before it (such a thread could still hold a TLB entry for the page).
//
// PIE: a plugin's PT_SREG pages are pinned while any host maps the plugin
// (EBLOCK and EWB return PIE_PLUGIN_MAPPED); an unmapped plugin pages like
// any enclave. Not modeled: evicting SECS and VA pages (EWB refuses them).

#include <algorithm>

#include <fmt/format.h>

#include "machine/machine.h"
#include "machine/machine_internal.h"

namespace confide::machine {
namespace {

constexpr uint32_t kVaSlots = kPageSize / 8;

tl::unexpected<Error> Gp(Instruction i, const std::string& why) {
  return FaultStatus(FaultVector::kGP, 0, fmt::format("{}: {}", Info(i).name, why));
}

tl::unexpected<Error> Pf(Instruction i, uint64_t address, const std::string& why) {
  return FaultStatus(FaultVector::kPF, address, fmt::format("{}: {}", Info(i).name, why));
}

// The VA slot `slot` of `va_page`; #PF/#GP as EWB/ELDU would raise.
StatusOr<uint8_t*> VaSlot(Machine& m, EpcPage va_page, uint32_t slot, Instruction i) {
  CONFIDE_ASSIGN_OR_RETURN(EpcmEntry va, MachineOps::ReadEpcm(m, va_page));
  if (!va.valid || va.type != PageType::kVa)
    return Pf(i, Epc::Address(va_page), PageName(va_page) + " is not a VA page");
  if (slot >= kVaSlots) return Gp(i, fmt::format("VA slot {} out of range (0..511)", slot));
  return MachineOps::EpcOf(m).mutable_bytes(va_page).data() + 8 * slot;
}

struct PagingAad {
  std::array<uint8_t, 32> bytes{};
};

PagingAad MakeAad(const SecInfo& secinfo, uint64_t linaddr, uint64_t eid, uint64_t version) {
  PagingAad a;
  StoreLe<uint64_t>(a.bytes.data(), secinfo.flags);
  StoreLe<uint64_t>(a.bytes.data() + 8, linaddr);
  StoreLe<uint64_t>(a.bytes.data() + 16, eid);
  StoreLe<uint64_t>(a.bytes.data() + 24, version);
  return a;
}

std::array<uint8_t, crypto::kGcmIvSize> MakeIv(uint64_t version) {
  std::array<uint8_t, crypto::kGcmIvSize> iv{};
  StoreLe<uint64_t>(iv.data(), version);
  return iv;
}

// A mapped plugin's pages are pinned: hosts read them without the plugin's
// lock, and PIE does not say how EWB would track the mapping hosts' threads.
// REQUIRES: holding e.mu.
Status CheckNotPinned(const EnclaveState& e, const EpcmEntry& entry, Instruction i) {
  if (entry.type == PageType::kSreg && e.mapped_by > 0)
    return SgxErrorStatus(SgxError::kPluginMapped,
                          fmt::format("{}: PT_SREG page of a plugin mapped by {} hosts is pinned",
                                      Info(i).name, e.mapped_by));
  return OkStatus();
}

// The EPCM state of a page as SECINFO flags (what the PCMD carries).
SecInfo EpcmAsSecInfo(const EpcmEntry& e) {
  SecInfo s = SecInfo::Make(e.type, e.perms);
  if (e.pending) s.flags |= secinfo::kPending;
  if (e.modified) s.flags |= secinfo::kModified;
  if (e.pr) s.flags |= secinfo::kPr;
  return s;
}

}  // namespace

Status Machine::Epa(CoreId core, EpcPage page) {
  constexpr Instruction kI = Instruction::kEpa;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EnclsCore(*this, core, kI));
  EpcmEntry entry;
  entry.type = PageType::kVa;
  CONFIDE_RETURN_IF_ERROR(MachineOps::ClaimPage(*this, page, entry, kI));
  std::fill_n(epc_.mutable_bytes(page).begin(), kPageSize, 0);
  MachineOps::Charge(*this, *c, nullptr, kI);
  return OkStatus();
}

Status Machine::Eblock(CoreId core, EpcPage page) {
  constexpr Instruction kI = Instruction::kEblock;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EnclsCore(*this, core, kI));
  CONFIDE_ASSIGN_OR_RETURN(EpcmEntry entry, MachineOps::ReadEpcm(*this, page));
  if (!entry.valid)
    return SgxErrorStatus(SgxError::kPgInvld, "EBLOCK: " + PageName(page) + " is not valid");
  if (entry.type == PageType::kSecs || entry.type == PageType::kVa)
    return SgxErrorStatus(SgxError::kNotBlockable, fmt::format("EBLOCK: {} is {}", PageName(page),
                                                               PageTypeName(entry.type)));
  CONFIDE_ASSIGN_OR_RETURN(EnclaveState * e, MachineOps::LookupSecs(*this, *c, entry.owner));
  std::lock_guard lock(e->mu);
  CONFIDE_ASSIGN_OR_RETURN(entry, MachineOps::ReadEpcm(*this, page));
  CONFIDE_RETURN_IF_ERROR(CheckNotPinned(*e, entry, kI));
  if (entry.blocked)
    return SgxErrorStatus(SgxError::kBlkState, "EBLOCK: " + PageName(page) + " is already blocked");
  entry.blocked = true;
  entry.epoch = e->epoch;
  MachineOps::WriteEpcm(*this, page, entry);
  MachineOps::Charge(*this, *c, e, kI);
  return OkStatus();
}

Status Machine::Etrack(CoreId core, EpcPage secs_page) {
  constexpr Instruction kI = Instruction::kEtrack;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EnclsCore(*this, core, kI));
  CONFIDE_ASSIGN_OR_RETURN(EnclaveState * e, MachineOps::LookupSecs(*this, *c, secs_page));
  std::lock_guard lock(e->mu);
  if (!e->inside_epochs.empty() && *e->inside_epochs.begin() < e->epoch)
    return SgxErrorStatus(SgxError::kPrevTrkIncmpl,
                          "ETRACK: threads from before the previous ETRACK are still inside");
  e->epoch++;
  MachineOps::Charge(*this, *c, e, kI);
  return OkStatus();
}

StatusOr<EvictedPage> Machine::Ewb(CoreId core, EpcPage page, EpcPage va_page, uint32_t va_slot) {
  constexpr Instruction kI = Instruction::kEwb;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EnclsCore(*this, core, kI));
  CONFIDE_ASSIGN_OR_RETURN(EpcmEntry entry, MachineOps::ReadEpcm(*this, page));
  if (!entry.valid) return Pf(kI, Epc::Address(page), PageName(page) + " is not valid");
  if (entry.type == PageType::kVa) return UnimplementedError("EWB of a VA page is not modeled");
  if (entry.type == PageType::kSecs) {
    CONFIDE_ASSIGN_OR_RETURN(auto s, MachineOps::LookupSecs(*this, page));
    std::lock_guard lock(s->mu);
    if (s->children > 0)
      return SgxErrorStatus(SgxError::kChildPresent,
                            fmt::format("EWB: SECS still has {} resident pages", s->children));
    return UnimplementedError("EWB of a SECS page is not modeled");
  }
  CONFIDE_ASSIGN_OR_RETURN(EnclaveState * e, MachineOps::LookupSecs(*this, *c, entry.owner));
  std::lock_guard lock(e->mu);
  CONFIDE_ASSIGN_OR_RETURN(entry, MachineOps::ReadEpcm(*this, page));
  CONFIDE_RETURN_IF_ERROR(CheckNotPinned(*e, entry, kI));
  if (!entry.blocked)
    return SgxErrorStatus(SgxError::kPageNotBlocked, "EWB: " + PageName(page) + " is not blocked");
  if (!(e->epoch > entry.epoch &&
        (e->inside_epochs.empty() || *e->inside_epochs.begin() > entry.epoch)))
    return SgxErrorStatus(SgxError::kNotTracked,
                          "EWB: no completed ETRACK since the page was blocked");
  CONFIDE_ASSIGN_OR_RETURN(uint8_t * slot, VaSlot(*this, va_page, va_slot, kI));
  if (LoadLe<uint64_t>(slot) != 0)
    return SgxErrorStatus(
        SgxError::kVaSlotOccupied,
        fmt::format("EWB: VA slot {} of {} is occupied", va_slot, PageName(va_page)));

  EvictedPage out;
  out.secinfo = EpcmAsSecInfo(entry);
  out.enclave_id = e->eid;
  out.linaddr = entry.linaddr;
  const uint64_t version = MachineOps::NextVersion(*this);
  const PagingAad aad = MakeAad(out.secinfo, out.linaddr, out.enclave_id, version);
  CONFIDE_RETURN_IF_ERROR(crypto::AesGcmEncrypt(MachineOps::PagingKey(*this), MakeIv(version),
                                                aad.bytes, epc_.bytes(page), out.ciphertext,
                                                &out.mac));
  StoreLe<uint64_t>(slot, version);
  // CSSA/NSSA live in the TCS page: they leave with it and come back at ELDU.
  if (auto t = e->tcs.find(page); t != e->tcs.end()) {
    if (entry.type == PageType::kTcs) e->evicted_tcs[entry.linaddr] = t->second;
    e->tcs.erase(t);
  }
  e->ErasePage(entry.linaddr);
  e->evicted.insert(entry.linaddr);
  e->children--;
  std::fill_n(epc_.mutable_bytes(page).begin(), kPageSize, 0);
  MachineOps::ReleasePage(*this, page);
  MachineOps::CountEvent(*c, *e, &PageEvents::pages_evicted);
  MachineOps::Charge(*this, *c, e, kI);
  return out;
}

namespace {

Status LoadBack(Machine& m, Machine::Core& c, Instruction kI, const EvictedPage& blob,
                EpcPage secs_page, EpcPage page, EpcPage va_page, uint32_t va_slot, bool blocked) {
  Epc& epc = MachineOps::EpcOf(m);
  CONFIDE_ASSIGN_OR_RETURN(EpcmEntry dest, MachineOps::ReadEpcm(m, page));
  if (dest.valid) return Pf(kI, Epc::Address(page), PageName(page) + " is in use");
  if (blob.secinfo.reserved_bits_set()) return Gp(kI, "PCMD.SECINFO reserved bits set");
  CONFIDE_ASSIGN_OR_RETURN(EnclaveState * e, MachineOps::LookupSecs(m, c, secs_page));
  std::lock_guard lock(e->mu);
  if (e->removed) return Pf(kI, Epc::Address(secs_page), "SECS was removed");
  CONFIDE_ASSIGN_OR_RETURN(uint8_t * slot, VaSlot(m, va_page, va_slot, kI));
  const uint64_t version = LoadLe<uint64_t>(slot);
  // The MAC binds page, SECINFO, address, enclave and version: a blob from
  // another enclave, a stale version or an emptied slot fails here.
  const PagingAad aad = MakeAad(blob.secinfo, blob.linaddr, e->eid, version);
  std::array<uint8_t, kPageSize> plain;
  if (version == 0 || blob.enclave_id != e->eid ||
      !crypto::AesGcmDecrypt(MachineOps::PagingKey(m), MakeIv(version), aad.bytes, blob.ciphertext,
                             blob.mac, plain)
           .ok())
    return SgxErrorStatus(SgxError::kMacCompareFail,
                          fmt::format("{}: evicted page at 0x{:x} fails its MAC or version check",
                                      Info(kI).name, blob.linaddr));
  if (e->pages.count(blob.linaddr))
    return SgxErrorStatus(SgxError::kVaConflict, fmt::format("{}: 0x{:x} is already resident",
                                                             Info(kI).name, blob.linaddr));
  EpcmEntry entry;
  entry.type = blob.secinfo.page_type();
  entry.perms = blob.secinfo.perms();
  entry.pending = blob.secinfo.flags & secinfo::kPending;
  entry.modified = blob.secinfo.flags & secinfo::kModified;
  entry.pr = blob.secinfo.flags & secinfo::kPr;
  entry.blocked = blocked;
  entry.epoch = e->epoch;
  entry.linaddr = blob.linaddr;
  entry.owner = secs_page;
  CONFIDE_RETURN_IF_ERROR(MachineOps::ClaimPage(m, page, entry, kI));
  std::copy(plain.begin(), plain.end(), epc.mutable_bytes(page).begin());
  StoreLe<uint64_t>(slot, 0);
  if (auto t = e->evicted_tcs.find(blob.linaddr); t != e->evicted_tcs.end()) {
    if (entry.type == PageType::kTcs) e->tcs[page] = t->second;
    e->evicted_tcs.erase(t);
  }
  e->InsertPage(blob.linaddr, page);
  e->evicted.erase(blob.linaddr);
  e->children++;
  MachineOps::CountEvent(c, *e, &PageEvents::pages_reloaded);
  MachineOps::Charge(m, c, e, kI);
  return OkStatus();
}

}  // namespace

Status Machine::Eldu(CoreId core, const EvictedPage& blob, EpcPage secs, EpcPage page,
                     EpcPage va_page, uint32_t va_slot) {
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EnclsCore(*this, core, Instruction::kEldu));
  return LoadBack(*this, *c, Instruction::kEldu, blob, secs, page, va_page, va_slot, false);
}

Status Machine::Eldb(CoreId core, const EvictedPage& blob, EpcPage secs, EpcPage page,
                     EpcPage va_page, uint32_t va_slot) {
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EnclsCore(*this, core, Instruction::kEldb));
  return LoadBack(*this, *c, Instruction::kEldb, blob, secs, page, va_page, va_slot, true);
}

}  // namespace confide::machine
