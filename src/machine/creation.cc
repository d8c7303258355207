// creation.cc — SGX1 enclave creation and teardown: ECREATE, EADD, EEXTEND,
// EINIT, EREMOVE (Intel SDM Vol. 3D §40.3), with PIE's plugin rules for
// PT_SREG pages (ISCA'21 §IV-D, §IV-E).
//
// Each handler runs the SDM's checks in the SDM's order; comments name the
// step. Faults come before architectural error codes, as in the SDM.
//
// EnTurbo (DAC'24) enclaves (SECS.MEASURE_RANGE_PAGES != 0) measure into one
// shadow measurement per range and serialize EEXTEND per range in virtual
// time (machine.h); the checks are the same.

#include <algorithm>

#include <fmt/format.h>

#include "machine/machine.h"
#include "machine/machine_internal.h"
#include "machine/measurement.h"

namespace confide::machine {
namespace {

bool IsPowerOfTwo(uint64_t x) { return x && !(x & (x - 1)); }

tl::unexpected<Error> Gp(Instruction i, const std::string& why) {
  return FaultStatus(FaultVector::kGP, 0, fmt::format("{}: {}", Info(i).name, why));
}

tl::unexpected<Error> Pf(Instruction i, uint64_t address, const std::string& why) {
  return FaultStatus(FaultVector::kPF, address, fmt::format("{}: {}", Info(i).name, why));
}

// The TCS checks EADD makes (SDM EADD: "IF (SECINFO.PAGE_TYPE = PT_TCS)").
Status CheckTcs(const Tcs& tcs, ByteSpan page) {
  if (LoadLe<uint64_t>(page.data()) != 0) return Gp(Instruction::kEadd, "TCS.STATE is not 0");
  if (tcs.cssa != 0) return Gp(Instruction::kEadd, "TCS.CSSA is not 0");
  if (tcs.nssa == 0) return Gp(Instruction::kEadd, "TCS.NSSA is 0");
  if (tcs.ossa % kPageSize || tcs.ofsbase % kPageSize || tcs.ogsbase % kPageSize)
    return Gp(Instruction::kEadd, "TCS.OSSA/OFSBASE/OGSBASE not page aligned");
  if (tcs.flags & ~uint64_t{1}) return Gp(Instruction::kEadd, "TCS.FLAGS reserved bits set");
  return OkStatus();
}

}  // namespace

Status Machine::Ecreate(CoreId core, const Secs& secs, EpcPage secs_page) {
  constexpr Instruction kI = Instruction::kEcreate;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EnclsCore(*this, core, kI));
  // SECS field checks (SDM ECREATE: "Check for misconfigured SECS").
  if (!IsPowerOfTwo(secs.size) || secs.size < 2 * kPageSize)
    return Gp(kI, fmt::format("SECS.SIZE 0x{:x} is not a power of two >= 0x2000", secs.size));
  if (secs.base_addr & (secs.size - 1))
    return Gp(kI, fmt::format("SECS.BASEADDR 0x{:x} is not aligned to SIZE", secs.base_addr));
  if (secs.ssa_frame_size == 0) return Gp(kI, "SECS.SSAFRAMESIZE is 0");
  if (secs.attributes.flags & attr::kReservedMask)
    return Gp(kI, fmt::format("SECS.ATTRIBUTES 0x{:x} sets reserved bits", secs.attributes.flags));
  if (secs.attributes.flags & attr::kInit) return Gp(kI, "SECS.ATTRIBUTES.INIT is set");
  if ((secs.attributes.xfrm & 0x3) != 0x3) return Gp(kI, "SECS.ATTRIBUTES.XFRM lacks x87/SSE");
  if (!(secs.attributes.flags & attr::kMode64Bit) && (secs.base_addr + secs.size) >> 32)
    return Gp(kI, "32-bit enclave ELRANGE above 4 GiB");
  // EnTurbo: every range needs a Shadow Measurement Cache entry.
  uint64_t ranges = 0;
  if (const uint32_t r = secs.measure_range_pages; r != 0) {
    ranges = (secs.size / kPageSize + r - 1) / r;
    if (ranges > kMaxMeasureRanges)
      return Gp(kI, fmt::format("SECS.MEASURE_RANGE_PAGES {} makes {} ranges, more than {}", r,
                                ranges, kMaxMeasureRanges));
  }

  auto e = std::make_shared<EnclaveState>();
  e->secs_page = secs_page;
  e->eid = MachineOps::NextEnclaveId(*this);
  e->secs = secs;
  e->secs.mr_enclave = {};
  e->secs.mr_signer = {};
  e->secs.isv_prod_id = 0;
  e->secs.isv_svn = 0;
  e->measurement = MeasurementBuilder(config_.page_contents, secs.measure_range_pages);
  e->measurement.Ecreate(secs.ssa_frame_size, secs.size);
  e->range_busy_until.assign(ranges, 0);

  EpcmEntry entry;
  entry.type = PageType::kSecs;
  entry.owner = secs_page;
  CONFIDE_RETURN_IF_ERROR(MachineOps::ClaimPage(*this, secs_page, entry, kI));
  if (!MachineOps::CostOnly(*this))
    std::fill_n(epc_.mutable_bytes(secs_page).begin(), kPageSize, 0);
  MachineOps::RegisterSecs(*this, secs_page, e);
  std::lock_guard lock(e->mu);
  MachineOps::Charge(*this, *c, e.get(), kI);
  return OkStatus();
}

Status Machine::Eadd(CoreId core, EpcPage secs_page, uint64_t linaddr, const SecInfo& secinfo,
                     ByteSpan src, EpcPage page) {
  constexpr Instruction kI = Instruction::kEadd;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EnclsCore(*this, core, kI));
  if (src.size() != kPageSize)
    return Gp(kI, fmt::format("source page is {} bytes, not 4096", src.size()));
  if (secinfo.reserved_bits_set()) return Gp(kI, "SECINFO reserved bits set");
  const PageType type = secinfo.page_type();
  if (type != PageType::kReg && type != PageType::kTcs && type != PageType::kSreg)
    return Gp(kI, fmt::format("SECINFO.PAGE_TYPE {} cannot be added", PageTypeName(type)));
  if (secinfo.flags & (secinfo::kPending | secinfo::kModified | secinfo::kPr))
    return Gp(kI, "SECINFO sets PENDING/MODIFIED/PR");
  if (type == PageType::kTcs && secinfo.perms() != 0)
    return Gp(kI, "SECINFO for a TCS must have R=W=X=0");
  if ((secinfo.flags & secinfo::kW) && !(secinfo.flags & secinfo::kR))
    return Gp(kI, "SECINFO sets W without R");
  if (linaddr % kPageSize)
    return Gp(kI, fmt::format("linear address 0x{:x} not page aligned", linaddr));

  CONFIDE_ASSIGN_OR_RETURN(EnclaveState * e, MachineOps::LookupSecs(*this, *c, secs_page));
  std::lock_guard lock(e->mu);
  if (e->removed) return Pf(kI, Epc::Address(secs_page), "SECS was removed");
  if (e->initialized) return Gp(kI, "enclave is already initialized (SECS.ATTRIBUTES.INIT = 1)");
  if (!e->Contains(linaddr))
    return Gp(kI, fmt::format("linear address 0x{:x} is outside ELRANGE", linaddr));
  Tcs tcs;
  if (type == PageType::kTcs) {
    tcs = Tcs::Parse(src);
    CONFIDE_RETURN_IF_ERROR(CheckTcs(tcs, src));
  }
  // PIE: an enclave is a plugin (only PT_SREG pages) or a host (no PT_SREG).
  const EnclaveKind kind = type == PageType::kSreg ? EnclaveKind::kPlugin : EnclaveKind::kHost;
  if (e->kind != EnclaveKind::kUndecided && e->kind != kind)
    return SgxErrorStatus(SgxError::kPageTypeMix,
                          fmt::format("EADD: {} page into a {} enclave", PageTypeName(type),
                                      e->kind == EnclaveKind::kPlugin ? "plugin" : "host"));
  if (e->pages.count(linaddr) || e->evicted.count(linaddr))
    return SgxErrorStatus(SgxError::kVaConflict,
                          fmt::format("EADD: linear address 0x{:x} already has a page", linaddr));

  EpcmEntry entry;
  entry.type = type;
  // PIE §IV-D: "CPU automatically masks the write permission bit for shared EPC pages".
  entry.perms = type == PageType::kSreg ? secinfo.perms() & ~secinfo::kW : secinfo.perms();
  entry.linaddr = linaddr;
  entry.owner = secs_page;
  CONFIDE_RETURN_IF_ERROR(MachineOps::ClaimPage(*this, page, entry, kI));

  if (!MachineOps::CostOnly(*this))
    std::copy(src.begin(), src.end(), epc_.mutable_bytes(page).begin());
  e->kind = kind;
  e->InsertPage(linaddr, page);
  e->children++;
  if (type == PageType::kTcs) e->tcs[page] = TcsState{false, 0, tcs.nssa, tcs.oentry};
  // The measured SECINFO is the one given, not the masked EPCM permissions.
  e->measurement.Eadd(linaddr - e->secs.base_addr, secinfo);
  MachineOps::CountEvent(*c, *e, &PageEvents::pages_added);
  MachineOps::Charge(*this, *c, e, kI);
  // EnTurbo R1: the page's EEXTENDs may start once this copy is done.
  if (e->enturbo()) e->eadd_end[linaddr] = e->busy_until;
  return OkStatus();
}

Status Machine::Eextend(CoreId core, EpcPage secs_page, uint64_t linaddr) {
  constexpr Instruction kI = Instruction::kEextend;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EnclsCore(*this, core, kI));
  if (linaddr % kEextendChunkSize)
    return Gp(kI, fmt::format("address 0x{:x} is not 256-byte aligned", linaddr));
  CONFIDE_ASSIGN_OR_RETURN(EnclaveState * e, MachineOps::LookupSecs(*this, *c, secs_page));
  std::lock_guard lock(e->mu);
  if (e->removed) return Pf(kI, Epc::Address(secs_page), "SECS was removed");
  const uint64_t page_addr = linaddr & ~uint64_t{kPageSize - 1};
  const std::optional<EpcPage> page = e->FindPage(page_addr);
  if (!page) return Pf(kI, linaddr, fmt::format("no page of this enclave at 0x{:x}", page_addr));
  if (e->initialized) return Gp(kI, "enclave is already initialized");
  // In cost-only mode the builder ignores the chunk: its bytes are never read.
  const ByteSpan chunk = epc_.bytes(*page).subspan(linaddr - page_addr, kEextendChunkSize);
  const uint64_t offset = linaddr - e->secs.base_addr;
  e->measurement.Eextend(offset, chunk);
  MachineOps::CountEvent(*c, *e, &PageEvents::chunks_measured);
  if (e->enturbo()) {
    // The range's worker serializes with the range only, after the page's EADD.
    const uint64_t range = MeasureRangeOf(offset, e->secs.measure_range_pages);
    const auto added = e->eadd_end.find(page_addr);
    MachineOps::ChargeOn(*this, *c, *e, kI, &e->range_busy_until[range],
                         added == e->eadd_end.end() ? 0 : added->second);
  } else {
    MachineOps::Charge(*this, *c, e, kI);
  }
  return OkStatus();
}

Status MachineOps::VerifySigstructOnce(Machine& m, const Sigstruct& sig) {
  const crypto::Sha256Digest digest = crypto::Sha256Of(sig.Serialize());
  {
    std::lock_guard lock(m.verified_mu_);
    for (const crypto::Sha256Digest& d : m.verified_sigstructs_)
      if (d == digest) return OkStatus();
  }
  CONFIDE_RETURN_IF_ERROR(VerifySigstruct(sig));  // failures are not remembered
  std::lock_guard lock(m.verified_mu_);
  // Bounded (a linear search): the few SIGSTRUCTs in use stay, once refilled.
  constexpr size_t kRemembered = 64;
  if (m.verified_sigstructs_.size() >= kRemembered) m.verified_sigstructs_.clear();
  m.verified_sigstructs_.push_back(digest);
  return OkStatus();
}

Status Machine::Einit(CoreId core, EpcPage secs_page, const Sigstruct& sig) {
  constexpr Instruction kI = Instruction::kEinit;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EnclsCore(*this, core, kI));
  CONFIDE_ASSIGN_OR_RETURN(EnclaveState * e, MachineOps::LookupSecs(*this, *c, secs_page));
  std::lock_guard lock(e->mu);
  if (e->removed) return Pf(kI, Epc::Address(secs_page), "SECS was removed");
  if (e->initialized) return Gp(kI, "enclave is already initialized");
  // SIGSTRUCT header, vendor, exponent, RSA signature, Q1/Q2.
  CONFIDE_RETURN_IF_ERROR(MachineOps::VerifySigstructOnce(*this, sig));
  // Launch control: flexible launch control with no EINITTOKEN (any signer).
  // MISCSELECT and ATTRIBUTES under the signer's masks.
  if ((sig.misc_select & sig.misc_mask) != (e->secs.misc_select & sig.misc_mask))
    return SgxErrorStatus(SgxError::kInvalidAttribute,
                          fmt::format("EINIT: MISCSELECT 0x{:x} does not match SIGSTRUCT 0x{:x} "
                                      "under mask 0x{:x}",
                                      e->secs.misc_select, sig.misc_select, sig.misc_mask));
  const Attributes& a = e->secs.attributes;
  const Attributes& m = sig.attribute_mask;
  if ((a.flags & m.flags) != (sig.attributes.flags & m.flags) ||
      (a.xfrm & m.xfrm) != (sig.attributes.xfrm & m.xfrm))
    return SgxErrorStatus(
        SgxError::kInvalidAttribute,
        fmt::format("EINIT: ATTRIBUTES {:x}/{:x} do not match SIGSTRUCT {:x}/{:x} "
                    "under mask {:x}/{:x}",
                    a.flags, a.xfrm, sig.attributes.flags, sig.attributes.xfrm, m.flags, m.xfrm));
  // Finish leaves the builder as it is: a failed EINIT leaves the enclave
  // uninitialized and still measurable.
  const crypto::Sha256Digest mr_enclave = e->measurement.Finish();
  if (mr_enclave != sig.enclave_hash)
    return SgxErrorStatus(SgxError::kInvalidMeasurement,
                          fmt::format("EINIT: {} {} differs from SIGSTRUCT.ENCLAVEHASH {}",
                                      e->enturbo() ? "split measurement" : "MRENCLAVE",
                                      ToHex(mr_enclave), ToHex(sig.enclave_hash)));
  e->secs.mr_enclave = mr_enclave;
  e->secs.mr_signer = sig.MrSigner();
  e->secs.isv_prod_id = sig.isv_prod_id;
  e->secs.isv_svn = sig.isv_svn;
  e->secs.attributes.flags |= attr::kInit;
  e->initialized = true;
  if (e->kind == EnclaveKind::kUndecided) e->kind = EnclaveKind::kHost;
  // EnTurbo: verification starts once every range has been measured.
  uint64_t measured = 0;
  for (uint64_t t : e->range_busy_until) measured = std::max(measured, t);
  e->eadd_end = {};
  MachineOps::Charge(*this, *c, e, kI, measured);
  return OkStatus();
}

Status Machine::Eremove(CoreId core, EpcPage page) {
  constexpr Instruction kI = Instruction::kEremove;
  CONFIDE_ASSIGN_OR_RETURN(Core * c, MachineOps::EnclsCore(*this, core, kI));
  CONFIDE_ASSIGN_OR_RETURN(EpcmEntry entry, MachineOps::ReadEpcm(*this, page));
  // SDM EREMOVE: a free page is removed trivially.
  if (!entry.valid) {
    MachineOps::Charge(*this, *c, nullptr, kI);
    return OkStatus();
  }
  if (entry.type == PageType::kVa) {
    // VA pages change hands under va_mu (EWB/ELDU of the VA page itself).
    std::unique_lock va(MachineOps::VaMu(*this));
    CONFIDE_ASSIGN_OR_RETURN(entry, MachineOps::ReadEpcm(*this, page));
    if (!entry.valid || entry.type != PageType::kVa) {
      va.unlock();
      return Eremove(core, page);  // it was evicted (and maybe reused) meanwhile: start over
    }
    MachineOps::ReleasePage(*this, page);
    va.unlock();
    MachineOps::Charge(*this, *c, nullptr, kI);
    return OkStatus();
  }
  CONFIDE_ASSIGN_OR_RETURN(EnclaveState * e, MachineOps::LookupSecs(*this, *c, entry.owner));
  std::lock_guard lock(e->mu);
  if (entry.type == PageType::kSecs) {
    if (e->children > 0)
      return SgxErrorStatus(SgxError::kChildPresent,
                            fmt::format("EREMOVE: SECS still has {} pages", e->children));
    // PIE §IV-E: a host's plugins must be unmapped before its SECS goes.
    if (!e->mappings.empty())
      return SgxErrorStatus(SgxError::kChildPresent,
                            fmt::format("EREMOVE: host still maps {} plugins", e->mappings.size()));
    if (e->mapped_by > 0)
      return SgxErrorStatus(SgxError::kPluginMapped,
                            fmt::format("EREMOVE: plugin is mapped by {} hosts", e->mapped_by));
    e->removed = true;
    MachineOps::Charge(*this, *c, e, kI);
    MachineOps::UnregisterSecs(*this, page);
    MachineOps::ReleasePage(*this, page);
    return OkStatus();
  }
  if (!e->inside_epochs.empty())
    return SgxErrorStatus(SgxError::kEnclaveAct,
                          "EREMOVE: a logical processor is executing inside the enclave");
  if (e->kind == EnclaveKind::kPlugin && e->mapped_by > 0)
    return SgxErrorStatus(
        SgxError::kPluginMapped,
        fmt::format("EREMOVE: plugin page while {} hosts map the plugin", e->mapped_by));
  if (e->kind == EnclaveKind::kPlugin) e->plugin_torn = true;
  e->ErasePage(entry.linaddr);
  e->tcs.erase(page);
  e->children--;
  MachineOps::CountEvent(*c, *e, &PageEvents::pages_removed);
  // Scrub the page: the next owner must not see this enclave's bytes.
  if (!MachineOps::CostOnly(*this)) std::fill_n(epc_.mutable_bytes(page).begin(), kPageSize, 0);
  MachineOps::ReleasePage(*this, page);
  MachineOps::Charge(*this, *c, e, kI);
  return OkStatus();
}

}  // namespace confide::machine
