#include "platform/enclave_builder.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "image/signer.h"
#include "machine/measurement.h"

namespace confide::platform {

using machine::PageType;
using machine::SecInfo;
namespace secinfo = machine::secinfo;

namespace {

constexpr uint32_t kSsaFrames = 2;  // NSSA: one frame for an AEX inside an AEX handler
constexpr uint64_t kYieldEvery = 64;

uint64_t Pages(uint64_t bytes) { return (bytes + kPageSize - 1) / kPageSize; }

SecInfo RegionSecInfo(const Region& r) {
  if (r.kind == RegionKind::kTcs) return SecInfo::Make(PageType::kTcs, 0);
  const PageType type = r.shared ? PageType::kSreg : PageType::kReg;
  if (r.rights != 0) return SecInfo::Make(type, r.rights);
  if (r.kind == RegionKind::kCode) return SecInfo::Make(type, secinfo::kR | secinfo::kX);
  return SecInfo::Make(type, secinfo::kR | secinfo::kW);
}

machine::Attributes EnclaveAttributes() {
  return machine::Attributes{machine::attr::kMode64Bit, 0x3};
}

// Walks every page of a spec in order with its region and running index.
template <typename F>
void ForEachPage(const EnclaveSpec& spec, F&& f) {
  uint64_t index = 0;
  for (const Region& r : spec.regions)
    for (uint64_t i = 0; i < r.pages; ++i, ++index) f(r, r.offset + i * kPageSize, index);
}

}  // namespace

void EnclaveSpec::PageAt(const Region& r, uint64_t offset, uint64_t index,
                         MutableByteSpan out) const {
  const EnclaveSpec& spec = *this;
  if (contents) {
    auto it = contents->find(offset);
    if (it == contents->end()) {
      std::fill(out.begin(), out.end(), 0);
    } else {
      std::copy(it->second.begin(), it->second.end(), out.begin());
    }
    return;
  }
  if (r.kind == RegionKind::kCode || r.kind == RegionKind::kData) {
    FillPage(spec.name, index, out);
    return;
  }
  std::fill(out.begin(), out.end(), 0);
  if (r.kind == RegionKind::kTcs) {
    const Region* ssa = spec.Find(RegionKind::kSsa);
    const Region* code = spec.Find(RegionKind::kCode);
    machine::Tcs tcs;
    tcs.ossa = ssa ? ssa->offset : 0;
    tcs.nssa = kSsaFrames;
    tcs.oentry = code ? code->offset : 0;
    const auto bytes = tcs.Serialize();
    std::copy(bytes.begin(), bytes.end(), out.begin());
  }
}

uint64_t EnclaveSpec::PagesAdded() const {
  uint64_t n = 0;
  for (const Region& r : regions) n += r.added ? r.pages : 0;
  return n;
}

uint64_t EnclaveSpec::TotalPages() const {
  uint64_t n = 0;
  for (const Region& r : regions) n += r.pages;
  return n;
}

const Region* EnclaveSpec::Find(RegionKind kind) const {
  for (const Region& r : regions)
    if (r.kind == kind) return &r;
  return nullptr;
}

uint64_t PowerOfTwoSize(uint64_t bytes) {
  uint64_t size = 2 * kPageSize;
  while (size < bytes) size <<= 1;
  return size;
}

EnclaveSpec HostSpec(const SpecParams& p) {
  EnclaveSpec spec;
  spec.name = p.name;
  spec.base = p.base;
  uint64_t offset = Pages(p.plugin_span) * kPageSize;
  auto add = [&](RegionKind kind, uint64_t pages, bool added, bool measured) {
    if (pages == 0) return;
    spec.regions.push_back(Region{kind, offset, pages, added, added && measured, false});
    offset += pages * kPageSize;
  };
  add(RegionKind::kCode, p.code_pages, true, p.code_measured);
  add(RegionKind::kData, p.data_pages, true, p.code_measured);
  add(RegionKind::kHeap, p.heap_pages, p.heap_added, p.heap_measured);
  add(RegionKind::kTcs, 1, true, true);
  add(RegionKind::kSsa, kSsaFrames, true, true);
  add(RegionKind::kStack, p.stack_pages, true, true);
  spec.size = PowerOfTwoSize(offset);
  return spec;
}

EnclaveSpec PluginSpec(std::string name, uint64_t base, uint64_t pages) {
  EnclaveSpec spec;
  spec.name = std::move(name);
  spec.base = base;
  spec.regions.push_back(Region{RegionKind::kCode, 0, pages, true, true, true});
  spec.size = PowerOfTwoSize(pages * kPageSize);
  return spec;
}

void FillPage(const std::string& name, uint64_t index, MutableByteSpan page) {
  // FNV-1a of the name, then one 64-bit word per 8 bytes: cheap, and
  // different for every page of every enclave.
  uint64_t seed = 1469598103934665603ull;
  for (char c : name) seed = (seed ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  uint64_t word = seed ^ (index * 0x9E3779B97F4A7C15ull);
  for (size_t off = 0; off + 8 <= page.size(); off += 8) {
    StoreLe<uint64_t>(page.data() + off, word);
    word += 0x2545F4914F6CDD1Dull;
  }
}

crypto::Sha256Digest ExpectedMeasurement(const EnclaveSpec& spec, machine::PageContents mode) {
  machine::MeasurementBuilder m(mode, spec.measure_range_pages);
  m.Ecreate(1, spec.size);
  std::array<uint8_t, kPageSize> page{};
  ForEachPage(spec, [&](const Region& r, uint64_t offset, uint64_t index) {
    if (!r.added) return;
    m.Eadd(offset, RegionSecInfo(r));
    if (!r.measured) return;
    if (mode == machine::PageContents::kFull) spec.PageAt(r, offset, index, page);
    for (uint64_t c = 0; c < kPageSize; c += machine::kEextendChunkSize)
      m.Eextend(offset + c, ByteSpan(page).subspan(c, machine::kEextendChunkSize));
  });
  return m.Finish();
}

StatusOr<machine::Sigstruct> SignSpec(const EnclaveSpec& spec, machine::PageContents mode,
                                      const crypto::Rsa3072PrivateKey& key) {
  image::SigningParams params;
  params.enclave_hash = ExpectedMeasurement(spec, mode);
  params.attributes = EnclaveAttributes();
  params.attribute_mask = machine::Attributes{~uint64_t{0}, 0};
  params.date = 0x20261122;  // fixed, so runs are reproducible
  return image::SignEnclave(key, params);
}

StatusOr<BuiltEnclave> BuildEnclave(EpcDriver& driver, CoreId core, const EnclaveSpec& spec,
                                    const machine::Sigstruct& sig, const BuildOptions& options,
                                    const std::function<void(CoreId)>& yield) {
  machine::Machine& m = driver.machine();
  const bool full = m.page_contents() == machine::PageContents::kFull;
  machine::Secs secs;
  secs.size = spec.size;
  secs.base_addr = spec.base;
  secs.ssa_frame_size = spec.ssa_frame_size;
  secs.attributes = EnclaveAttributes();
  secs.measure_range_pages = spec.measure_range_pages;

  CONFIDE_ASSIGN_OR_RETURN(EpcPage secs_page, driver.Allocate(core));
  CONFIDE_RETURN_IF_ERROR(m.Ecreate(core, secs, secs_page));
  driver.Track(secs_page, 0, secs_page);
  BuiltEnclave e;
  e.secs = secs_page;
  e.base = spec.base;
  e.size = spec.size;
  if (const Region* tcs = spec.Find(RegionKind::kTcs)) e.tcs_linaddr = spec.base + tcs->offset;

  auto fail = [&](const Status& s) -> tl::unexpected<Error> {
    (void)DestroyEnclave(driver, core, e);  // best effort; the first error is the one to report
    return tl::unexpected(s.error());
  };
  std::array<uint8_t, kPageSize> page{};
  Status status;
  uint64_t since_yield = 0;
  ForEachPage(spec, [&](const Region& r, uint64_t offset, uint64_t index) {
    if (!status.ok() || !r.added) return;
    // A TCS must be parsed by EADD even in cost-only mode; other pages'
    // bytes matter only in full mode.
    if (full || r.kind == RegionKind::kTcs) spec.PageAt(r, offset, index, page);
    const uint64_t linaddr = spec.base + offset;
    StatusOr<EpcPage> p = driver.Allocate(core);
    if (!p.ok()) {
      status = p.status();
      return;
    }
    status = m.Eadd(core, secs_page, linaddr, RegionSecInfo(r), page, *p);
    if (!status.ok()) return;
    driver.Track(secs_page, linaddr, *p);
    if (r.measured && options.measure) {
      status = options.measure(secs_page, linaddr);
    } else if (r.measured) {
      for (uint64_t c = 0; c < kPageSize && status.ok(); c += machine::kEextendChunkSize)
        status = m.Eextend(core, secs_page, linaddr + c);
    }
    if (yield && ++since_yield == kYieldEvery) {
      since_yield = 0;
      yield(core);
    }
  });
  if (!status.ok())
    return fail(Annotate(status, fmt::format("building enclave \"{}\"", spec.name)));
  if (options.einit) {
    Status s = m.Einit(core, secs_page, sig);
    if (!s.ok()) return fail(Annotate(s, fmt::format("EINIT of enclave \"{}\"", spec.name)));
    CONFIDE_ASSIGN_OR_RETURN(machine::Secs done, m.SecsOf(secs_page));
    e.mrenclave = done.mr_enclave;
  }
  e.expected = spec.expected_mrenclave.value_or(e.mrenclave);
  return e;
}

Status DestroyEnclave(EpcDriver& driver, CoreId core, const BuiltEnclave& e) {
  return driver.Destroy(core, e.secs);
}

}  // namespace confide::platform
