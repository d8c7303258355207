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
// any enclave.
//
// VA pages can be evicted too (SDM §39.5.2: the OS may page out VA pages,
// building a tree of versions): EWB seals the page's 512 slots like any
// page's bytes and puts its version into a slot of another, resident VA page;
// ELDU/ELDB bring it back as a PT_VA page, possibly at another EPC address.
// Evicting 16 Mi pages needs 32 Ki VA pages, more than a 94 MiB EPC holds.
// VA pages are never mapped, so there is nothing to block or track: EBLOCK
// refuses them (SGX_NOTBLOCKABLE) and EWB does not ask for it. PAGEINFO.SECS
// plays no part for a VA page (ELDU ignores it), and the PCMD has ENCLAVEID 0
// and LINADDR 0. Not modeled: evicting SECS pages (EWB refuses them).
//
// Cost-only mode (page_contents.h): a non-VA page is sealed with no bytes —
// AES-GCM over the same additional data and an empty plaintext — so its MAC
// still binds SECINFO, address, enclave and version, and a tampered or
// replayed blob fails ELDU exactly as in full mode. VA pages keep their bytes
// in both modes.
//
// Locking: VA slots are read and written under va_mu (machine_internal.h),
// in the same critical section that checks the VA page is still a VA page,
// since EWB/ELDU/EREMOVE of the VA page itself may run on another thread.

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
// REQUIRES: holding va_mu (the pointer is good until it is released).
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

// A mapped plugin's page may be blocked and written back only while no
// thread is inside any host that maps it. PIE does not say how EWB would
// track the mapping hosts' threads (their TLBs may hold the page); requiring
// them all to be out is the conservative reading, the plugin-wide analogue
// of ETRACK's "no thread inside from an earlier epoch". Once out, a host's
// next access to the page faults (#PF) and the OS reloads it with ELDU.
// REQUIRES: holding e.mu.
Status CheckNotPinned(const EnclaveState& e, const EpcmEntry& entry, Instruction i) {
  if (entry.type != PageType::kSreg || e.mapped_by == 0) return OkStatus();
  if (e.busy_mappers.load(std::memory_order_acquire) > 0)
    return SgxErrorStatus(
        SgxError::kPluginMapped,
        fmt::format("{}: PT_SREG page of a plugin mapped by a host with a thread inside",
                    Info(i).name));
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
  {
    // Claimed and zeroed in one step: no EWB may use a slot of it before.
    std::lock_guard va_lock(va_mu_);
    CONFIDE_RETURN_IF_ERROR(MachineOps::ClaimPage(*this, page, entry, kI));
    std::fill_n(epc_.mutable_bytes(page).begin(), kPageSize, 0);
  }
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

namespace {

// The number of bytes EWB seals for a page of type `type`.
size_t SealedSize(const Machine& m, PageType type) {
  return type == PageType::kVa || !MachineOps::CostOnly(m) ? kPageSize : 0;
}

// EWB of VA page `page` into slot `va_slot` of VA page `va_page`. All under
// va_mu: no slot of `page` may change between sealing and freeing it.
StatusOr<EvictedPage> EwbVa(Machine& m, Machine::Core& c, EpcPage page, EpcPage va_page,
                            uint32_t va_slot) {
  constexpr Instruction kI = Instruction::kEwb;
  Epc& epc = MachineOps::EpcOf(m);
  std::lock_guard va_lock(MachineOps::VaMu(m));
  CONFIDE_ASSIGN_OR_RETURN(EpcmEntry entry, MachineOps::ReadEpcm(m, page));
  if (!entry.valid || entry.type != PageType::kVa)
    return Pf(kI, Epc::Address(page), PageName(page) + " is not valid");
  // A page's version cannot live inside the page itself.
  if (va_page == page)
    return Gp(kI, fmt::format("{} would go into a slot of itself", PageName(page)));
  CONFIDE_ASSIGN_OR_RETURN(uint8_t * slot, VaSlot(m, va_page, va_slot, kI));
  if (LoadLe<uint64_t>(slot) != 0)
    return SgxErrorStatus(
        SgxError::kVaSlotOccupied,
        fmt::format("EWB: VA slot {} of {} is occupied", va_slot, PageName(va_page)));
  EvictedPage out;
  out.secinfo = EpcmAsSecInfo(entry);
  out.ciphertext.resize(kPageSize);
  const uint64_t version = MachineOps::NextVersion(m);
  const PagingAad aad = MakeAad(out.secinfo, out.linaddr, out.enclave_id, version);
  CONFIDE_RETURN_IF_ERROR(crypto::AesGcmEncrypt(MachineOps::PagingKey(m), MakeIv(version),
                                                aad.bytes, epc.bytes(page), out.ciphertext,
                                                &out.mac));
  StoreLe<uint64_t>(slot, version);
  std::fill_n(epc.mutable_bytes(page).begin(), kPageSize, 0);
  MachineOps::ReleasePage(m, page);
  MachineOps::CountCoreEvent(c, &PageEvents::pages_evicted);
  MachineOps::Charge(m, c, nullptr, kI);
  return out;
}

}  // namespace

StatusOr<EvictedPage> Machine::Ewb(CoreId core, EpcPage page, EpcPage va_page, uint32_t va_slot) {
  constexpr Instruction kI = Instruction::kEwb;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EnclsCore(*this, core, kI));
  CONFIDE_ASSIGN_OR_RETURN(EpcmEntry entry, MachineOps::ReadEpcm(*this, page));
  if (!entry.valid) return Pf(kI, Epc::Address(page), PageName(page) + " is not valid");
  if (entry.type == PageType::kVa) return EwbVa(*this, *c, page, va_page, va_slot);
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

  // Seal first, outside va_mu (encrypting 4 KiB is the slow part); the VA
  // checks and the slot write then happen in one critical section. A failed
  // check wastes a version number, which is not observable.
  EvictedPage out;
  out.secinfo = EpcmAsSecInfo(entry);
  out.enclave_id = e->eid;
  out.linaddr = entry.linaddr;
  out.ciphertext.resize(SealedSize(*this, entry.type));
  const uint64_t version = MachineOps::NextVersion(*this);
  const PagingAad aad = MakeAad(out.secinfo, out.linaddr, out.enclave_id, version);
  const ByteSpan plain = out.ciphertext.empty() ? ByteSpan() : epc_.bytes(page);
  CONFIDE_RETURN_IF_ERROR(crypto::AesGcmEncrypt(MachineOps::PagingKey(*this), MakeIv(version),
                                                aad.bytes, plain, out.ciphertext, &out.mac));
  {
    std::lock_guard va_lock(va_mu_);
    CONFIDE_ASSIGN_OR_RETURN(uint8_t * slot, VaSlot(*this, va_page, va_slot, kI));
    if (LoadLe<uint64_t>(slot) != 0)
      return SgxErrorStatus(
          SgxError::kVaSlotOccupied,
          fmt::format("EWB: VA slot {} of {} is occupied", va_slot, PageName(va_page)));
    StoreLe<uint64_t>(slot, version);
  }
  // CSSA/NSSA live in the TCS page: they leave with it and come back at ELDU.
  if (auto t = e->tcs.find(page); t != e->tcs.end()) {
    if (entry.type == PageType::kTcs) e->evicted_tcs[entry.linaddr] = t->second;
    e->tcs.erase(t);
  }
  e->ErasePage(entry.linaddr);
  e->evicted.insert(entry.linaddr);
  e->children--;
  if (!MachineOps::CostOnly(*this)) std::fill_n(epc_.mutable_bytes(page).begin(), kPageSize, 0);
  MachineOps::ReleasePage(*this, page);
  MachineOps::CountEvent(*c, *e, &PageEvents::pages_evicted);
  MachineOps::Charge(*this, *c, e, kI);
  return out;
}

namespace {

// Checks `blob`'s MAC against `version` (the VA slot's) for enclave ID `eid`
// and, in `plain` (which must be as long as the ciphertext), returns the
// page. A length other than what EWB writes for the page's type fails like a
// bad MAC.
bool Unseal(const Machine& m, const EvictedPage& blob, uint64_t eid, uint64_t version,
            MutableByteSpan plain) {
  if (version == 0 || blob.enclave_id != eid ||
      blob.ciphertext.size() != SealedSize(m, blob.secinfo.page_type()) ||
      plain.size() != blob.ciphertext.size())
    return false;
  const PagingAad aad = MakeAad(blob.secinfo, blob.linaddr, eid, version);
  return crypto::AesGcmDecrypt(MachineOps::PagingKey(m), MakeIv(version), aad.bytes,
                               blob.ciphertext, blob.mac, plain)
      .ok();
}

tl::unexpected<Error> MacFail(Instruction i, const EvictedPage& blob) {
  return SgxErrorStatus(SgxError::kMacCompareFail,
                        fmt::format("{}: evicted page at 0x{:x} fails its MAC or version check",
                                    Info(i).name, blob.linaddr));
}

// ELDU/ELDB of an evicted VA page into free page `page`. All under va_mu, as
// EWB of a VA page.
Status LoadVa(Machine& m, Machine::Core& c, Instruction kI, const EvictedPage& blob, EpcPage page,
              EpcPage va_page, uint32_t va_slot, bool blocked) {
  Epc& epc = MachineOps::EpcOf(m);
  std::lock_guard va_lock(MachineOps::VaMu(m));
  CONFIDE_ASSIGN_OR_RETURN(uint8_t * slot, VaSlot(m, va_page, va_slot, kI));
  std::array<uint8_t, kPageSize> plain;
  if (!Unseal(m, blob, 0, LoadLe<uint64_t>(slot), plain)) return MacFail(kI, blob);
  EpcmEntry entry;
  entry.type = PageType::kVa;
  entry.blocked = blocked;  // as the SDM's ELDB sets it; it means nothing for a VA page
  CONFIDE_RETURN_IF_ERROR(MachineOps::ClaimPage(m, page, entry, kI));
  std::copy(plain.begin(), plain.end(), epc.mutable_bytes(page).begin());
  StoreLe<uint64_t>(slot, 0);
  MachineOps::CountCoreEvent(c, &PageEvents::pages_reloaded);
  MachineOps::Charge(m, c, nullptr, kI);
  return OkStatus();
}

Status LoadBack(Machine& m, Machine::Core& c, Instruction kI, const EvictedPage& blob,
                EpcPage secs_page, EpcPage page, EpcPage va_page, uint32_t va_slot, bool blocked) {
  Epc& epc = MachineOps::EpcOf(m);
  CONFIDE_ASSIGN_OR_RETURN(EpcmEntry dest, MachineOps::ReadEpcm(m, page));
  if (dest.valid) return Pf(kI, Epc::Address(page), PageName(page) + " is in use");
  if (blob.secinfo.reserved_bits_set()) return Gp(kI, "PCMD.SECINFO reserved bits set");
  // A VA page belongs to no enclave: PAGEINFO.SECS is not looked at.
  if (blob.secinfo.page_type() == PageType::kVa)
    return LoadVa(m, c, kI, blob, page, va_page, va_slot, blocked);
  CONFIDE_ASSIGN_OR_RETURN(EnclaveState * e, MachineOps::LookupSecs(m, c, secs_page));
  std::lock_guard lock(e->mu);
  if (e->removed) return Pf(kI, Epc::Address(secs_page), "SECS was removed");
  uint64_t version = 0;
  {
    std::lock_guard va_lock(MachineOps::VaMu(m));
    CONFIDE_ASSIGN_OR_RETURN(uint8_t * slot, VaSlot(m, va_page, va_slot, kI));
    version = LoadLe<uint64_t>(slot);
  }
  // The MAC binds page, SECINFO, address, enclave and version: a blob from
  // another enclave, a stale version or an emptied slot fails here.
  std::array<uint8_t, kPageSize> plain;
  const MutableByteSpan plain_span =
      MutableByteSpan(plain).first(std::min(blob.ciphertext.size(), kPageSize));
  if (!Unseal(m, blob, e->eid, version, plain_span)) return MacFail(kI, blob);
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
  {
    // The slot is consumed in the same critical section that claims the page;
    // if another load consumed it first, this one is a replay.
    std::lock_guard va_lock(MachineOps::VaMu(m));
    CONFIDE_ASSIGN_OR_RETURN(uint8_t * slot, VaSlot(m, va_page, va_slot, kI));
    if (LoadLe<uint64_t>(slot) != version) return MacFail(kI, blob);
    CONFIDE_RETURN_IF_ERROR(MachineOps::ClaimPage(m, page, entry, kI));
    StoreLe<uint64_t>(slot, 0);
  }
  if (!plain_span.empty()) std::copy(plain.begin(), plain.end(), epc.mutable_bytes(page).begin());
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
