#include "twin_machine.h"

#include <algorithm>

#include <fmt/format.h>

namespace confide::machine::testing {
namespace {

// What the architecture lets a caller see of an outcome: messages may differ
// (they name measurements, which differ between the modes).
std::string Outcome(const Status& s) {
  if (s.ok()) return "OK";
  const Error& e = s.error();
  switch (e.code) {
    case ErrorCode::kSgxError:
      return fmt::format("SGX {}", SgxErrorName(e.sgx));
    case ErrorCode::kFault:
      return fmt::format("fault {} at 0x{:x}", static_cast<int>(e.fault.vector), e.fault.address);
    default:
      return fmt::format("error code {}", static_cast<int>(e.code));
  }
}

std::string ShowEpcm(const EpcmEntry& e) {
  return fmt::format(
      "{{valid={} type={} perms={} pending={} modified={} pr={} blocked={} linaddr=0x{:x} "
      "owner={} epoch={}}}",
      e.valid, PageTypeName(e.type), e.perms, e.pending, e.modified, e.pr, e.blocked, e.linaddr,
      e.owner, e.epoch);
}

bool SameEntry(const EpcmEntry& a, const EpcmEntry& b) {
  return a.valid == b.valid && a.type == b.type && a.perms == b.perms && a.pending == b.pending &&
         a.modified == b.modified && a.pr == b.pr && a.blocked == b.blocked &&
         a.linaddr == b.linaddr && a.owner == b.owner && a.epoch == b.epoch;
}

// The test key that signed `s`, or nullptr.
const crypto::Rsa3072PrivateKey* KeyOf(const Sigstruct& s) {
  for (const crypto::Rsa3072PrivateKey* key : {&SignerKey(), &OtherSignerKey()}) {
    crypto::Rsa3072Block modulus_le = key->Modulus();
    std::reverse(modulus_le.begin(), modulus_le.end());
    if (modulus_le == s.modulus_le) return key;
  }
  return nullptr;
}

}  // namespace

TwinMachine::TwinMachine(std::unique_ptr<Machine> full, std::unique_ptr<Machine> cost_only)
    : full_(std::move(full)), cost_only_(std::move(cost_only)) {}

void TwinMachine::Check(const char* what, const Status& full, const Status& cost_only) {
  auto fail = [&](const std::string& why) {
    mismatches_.push_back(fmt::format("{}: {}", what, why));
  };
  if (Outcome(full) != Outcome(cost_only))
    fail(fmt::format("full mode gave {} ({}), cost-only mode {} ({})", Outcome(full),
                     full.ToString(), Outcome(cost_only), cost_only.ToString()));
  const CounterSnapshot a = full_->Counters(), b = cost_only_->Counters();
  if (a.count != b.count || a.cycles != b.cycles) fail("instruction counters differ");
  for (auto field : kPageEventFields)
    if (a.events.*field != b.events.*field) fail("page events differ");
  for (CoreId c = 0; c < full_->core_count(); ++c) {
    if (full_->CoreCycles(c) != cost_only_->CoreCycles(c))
      fail(fmt::format("core {} clock {} vs {}", c, full_->CoreCycles(c),
                       cost_only_->CoreCycles(c)));
    if (full_->CurrentEnclave(c) != cost_only_->CurrentEnclave(c))
      fail(fmt::format("core {} is in different enclaves", c));
  }
  if (full_->FreePageCount() != cost_only_->FreePageCount()) fail("free page counts differ");
  for (EpcPage p = 0; p < full_->epc_pages(); ++p)
    if (!SameEntry(full_->Epcm(p), cost_only_->Epcm(p)))
      fail(fmt::format("EPCM of page {}: {} vs {}", p, ShowEpcm(full_->Epcm(p)),
                       ShowEpcm(cost_only_->Epcm(p))));
}

Status TwinMachine::Ecreate(CoreId core, const Secs& secs, EpcPage secs_page) {
  const Status a = full_->Ecreate(core, secs, secs_page);
  if (!cost_only_) return a;
  const Status b = cost_only_->Ecreate(core, secs, secs_page);
  Check("ECREATE", a, b);
  if (b.ok()) {
    Replay& r = replays_[secs_page];
    r.base = secs.base_addr;
    r.measurement = MeasurementBuilder(PageContents::kCostOnly, secs.measure_range_pages);
    r.measurement.Ecreate(secs.ssa_frame_size, secs.size);
  }
  return a;
}

Status TwinMachine::Eadd(CoreId core, EpcPage secs, uint64_t linaddr, const SecInfo& secinfo,
                         ByteSpan src, EpcPage page) {
  const Status a = full_->Eadd(core, secs, linaddr, secinfo, src, page);
  if (!cost_only_) return a;
  const Status b = cost_only_->Eadd(core, secs, linaddr, secinfo, src, page);
  Check("EADD", a, b);
  if (auto r = replays_.find(secs); b.ok() && r != replays_.end())
    r->second.measurement.Eadd(linaddr - r->second.base, secinfo);
  return a;
}

Status TwinMachine::Eextend(CoreId core, EpcPage secs, uint64_t linaddr) {
  const Status a = full_->Eextend(core, secs, linaddr);
  if (!cost_only_) return a;
  const Status b = cost_only_->Eextend(core, secs, linaddr);
  Check("EEXTEND", a, b);
  if (auto r = replays_.find(secs); b.ok() && r != replays_.end())
    r->second.measurement.Eextend(linaddr - r->second.base, {});
  return a;
}

Status TwinMachine::Einit(CoreId core, EpcPage secs, const Sigstruct& sigstruct) {
  const Status a = full_->Einit(core, secs, sigstruct);
  if (!cost_only_) return a;
  // A SIGSTRUCT that EINITs the full machine, re-signed over the cost-only
  // measurement; any other passes unchanged (it fails the same check, or the
  // measurement check: a full-mode hash is never a cost-only one).
  Sigstruct s = sigstruct;
  if (auto r = replays_.find(secs); a.ok() && r != replays_.end()) {
    if (const crypto::Rsa3072PrivateKey* key = KeyOf(sigstruct)) {
      s.enclave_hash = r->second.measurement.Finish();
      s = SignSigstruct(s, *key);
    }
  }
  const Status b = cost_only_->Einit(core, secs, s);
  Check("EINIT", a, b);
  return a;
}

Status TwinMachine::Eremove(CoreId core, EpcPage page) {
  const EpcmEntry before = full_->Epcm(page);
  const Status a = full_->Eremove(core, page);
  if (!cost_only_) return a;
  const Status b = cost_only_->Eremove(core, page);
  Check("EREMOVE", a, b);
  if (b.ok() && before.valid && before.type == PageType::kSecs) replays_.erase(page);
  return a;
}

Status TwinMachine::Eaug(CoreId core, EpcPage secs, uint64_t linaddr, EpcPage page) {
  const Status a = full_->Eaug(core, secs, linaddr, page);
  if (cost_only_) Check("EAUG", a, cost_only_->Eaug(core, secs, linaddr, page));
  return a;
}

Status TwinMachine::Eaccept(CoreId core, const SecInfo& secinfo, uint64_t linaddr) {
  const Status a = full_->Eaccept(core, secinfo, linaddr);
  if (cost_only_) Check("EACCEPT", a, cost_only_->Eaccept(core, secinfo, linaddr));
  return a;
}

Status TwinMachine::Epa(CoreId core, EpcPage page) {
  const Status a = full_->Epa(core, page);
  if (cost_only_) Check("EPA", a, cost_only_->Epa(core, page));
  return a;
}

Status TwinMachine::Eblock(CoreId core, EpcPage page) {
  const Status a = full_->Eblock(core, page);
  if (cost_only_) Check("EBLOCK", a, cost_only_->Eblock(core, page));
  return a;
}

Status TwinMachine::Etrack(CoreId core, EpcPage secs) {
  const Status a = full_->Etrack(core, secs);
  if (cost_only_) Check("ETRACK", a, cost_only_->Etrack(core, secs));
  return a;
}

StatusOr<EvictedPage> TwinMachine::Ewb(CoreId core, EpcPage page, EpcPage va_page,
                                       uint32_t va_slot) {
  const EpcmEntry before = full_->Epcm(page);
  auto a = full_->Ewb(core, page, va_page, va_slot);
  if (!cost_only_) return a;
  auto b = cost_only_->Ewb(core, page, va_page, va_slot);
  Check("EWB", a.status(), b.status());
  if (a.ok() && b.ok()) {
    // Only VA pages keep their bytes in cost-only mode.
    const size_t want = before.type == PageType::kVa ? kPageSize : 0;
    if (b->ciphertext.size() != want)
      mismatches_.push_back(fmt::format("EWB: cost-only blob of a {} has {} bytes",
                                        PageTypeName(before.type), b->ciphertext.size()));
    if (a->linaddr != b->linaddr || a->enclave_id != b->enclave_id ||
        a->secinfo.flags != b->secinfo.flags)
      mismatches_.push_back("EWB: the blobs' PCMD fields differ");
    blobs_[a->mac] = *b;
  }
  return a;
}

Status TwinMachine::LoadBack(bool eldb, CoreId core, const EvictedPage& blob, EpcPage secs,
                             EpcPage page, EpcPage va_page, uint32_t va_slot) {
  const Status a = eldb ? full_->Eldb(core, blob, secs, page, va_page, va_slot)
                        : full_->Eldu(core, blob, secs, page, va_page, va_slot);
  if (!cost_only_) return a;
  auto twin = blobs_.find(blob.mac);
  if (twin == blobs_.end()) {
    mismatches_.push_back("ELDU/ELDB of a blob that no EWB returned");
    return a;
  }
  const Status b = eldb ? cost_only_->Eldb(core, twin->second, secs, page, va_page, va_slot)
                        : cost_only_->Eldu(core, twin->second, secs, page, va_page, va_slot);
  Check(eldb ? "ELDB" : "ELDU", a, b);
  return a;
}

Status TwinMachine::Eldu(CoreId core, const EvictedPage& blob, EpcPage secs, EpcPage page,
                         EpcPage va_page, uint32_t va_slot) {
  return LoadBack(false, core, blob, secs, page, va_page, va_slot);
}

Status TwinMachine::Eldb(CoreId core, const EvictedPage& blob, EpcPage secs, EpcPage page,
                         EpcPage va_page, uint32_t va_slot) {
  return LoadBack(true, core, blob, secs, page, va_page, va_slot);
}

Status TwinMachine::Eenter(CoreId core, EpcPage tcs) {
  const Status a = full_->Eenter(core, tcs);
  if (cost_only_) Check("EENTER", a, cost_only_->Eenter(core, tcs));
  return a;
}

Status TwinMachine::Eexit(CoreId core) {
  const Status a = full_->Eexit(core);
  if (cost_only_) Check("EEXIT", a, cost_only_->Eexit(core));
  return a;
}

Status TwinMachine::Emap(CoreId core, EpcPage plugin_secs, const crypto::Sha256Digest& expected) {
  const Status a = full_->Emap(core, plugin_secs, expected);
  if (!cost_only_) return a;
  // The plugin's full-mode MRENCLAVE stands for its cost-only one.
  crypto::Sha256Digest twin_expected = expected;
  auto full_secs = full_->SecsOf(plugin_secs);
  auto twin_secs = cost_only_->SecsOf(plugin_secs);
  if (full_secs.ok() && twin_secs.ok() && full_secs->mr_enclave == expected)
    twin_expected = twin_secs->mr_enclave;
  Check("EMAP", a, cost_only_->Emap(core, plugin_secs, twin_expected));
  return a;
}

Status TwinMachine::Eunmap(CoreId core, EpcPage plugin_secs) {
  const Status a = full_->Eunmap(core, plugin_secs);
  if (cost_only_) Check("EUNMAP", a, cost_only_->Eunmap(core, plugin_secs));
  return a;
}

Status TwinMachine::Read(CoreId core, uint64_t linaddr, MutableByteSpan out) {
  const Status a = full_->Read(core, linaddr, out);
  if (!cost_only_) return a;
  std::vector<uint8_t> twin_out(out.size(), 0xee);
  const Status b = cost_only_->Read(core, linaddr, twin_out);
  Check("Read", a, b);
  if (b.ok() && std::any_of(twin_out.begin(), twin_out.end(), [](uint8_t x) { return x != 0; }))
    mismatches_.push_back("Read: cost-only mode read bytes that are not zero");
  return a;
}

Status TwinMachine::Write(CoreId core, uint64_t linaddr, ByteSpan data) {
  const Status a = full_->Write(core, linaddr, data);
  if (cost_only_) Check("Write", a, cost_only_->Write(core, linaddr, data));
  return a;
}

StatusOr<Translation> TwinMachine::Translate(CoreId core, uint64_t linaddr) {
  auto a = full_->Translate(core, linaddr);
  if (!cost_only_) return a;
  auto b = cost_only_->Translate(core, linaddr);
  Check("Translate", a.status(), b.status());
  if (a.ok() && b.ok() && (a->page != b->page || a->perms != b->perms || a->shared != b->shared))
    mismatches_.push_back("Translate: different translations");
  return a;
}

Status TwinMachine::CopyOnWrite(CoreId core, EpcPage tcs, uint64_t linaddr, EpcPage free_page) {
  const Status a = full_->CopyOnWrite(core, tcs, linaddr, free_page);
  if (cost_only_) Check("CopyOnWrite", a, cost_only_->CopyOnWrite(core, tcs, linaddr, free_page));
  return a;
}

}  // namespace confide::machine::testing
