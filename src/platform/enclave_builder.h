// enclave_builder.h — building synthetic enclaves of a workload's shape on
// the machine: the OS's loader path (ECREATE, EADD/EEXTEND, EINIT) over the
// EpcDriver, with the value to sign computed in software by the machine's
// own MeasurementBuilder, so it is right in full and in cost-only mode.
//
// An enclave is described by an EnclaveSpec: regions of pages at offsets
// from BASEADDR, each with its SECINFO, whether EADD adds it (or the enclave
// EAUGs it later), and whether its chunks are EEXTENDed. Page contents are
// synthetic and deterministic: page i of a spec named N holds a pattern
// derived from (N, i), so two builds of one spec measure the same.
//
// Plugins (PIE) are built the same way from a spec of PT_SREG pages.
//
// Thread-safety: as the EpcDriver (one thread at a time).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "crypto/rsa.h"
#include "crypto/sha256.h"
#include "machine/machine.h"
#include "platform/epc_driver.h"

namespace confide::platform {

enum class RegionKind : uint8_t {
  kCode,   // read + execute
  kData,   // read + write, contents loaded
  kHeap,   // read + write, zero
  kTcs,    // one TCS page per thread
  kSsa,    // read + write
  kStack,  // read + write
};

struct Region {
  RegionKind kind = RegionKind::kCode;
  uint64_t offset = 0;  // from BASEADDR, page aligned
  uint64_t pages = 0;
  bool added = true;     // EADDed at creation (false: EAUGed later by the policy)
  bool measured = true;  // EEXTENDed (only if added)
  bool shared = false;   // PT_SREG (a plugin's page)
  // SECINFO R/W/X bits (machine::secinfo); 0: by kind (code R+X, TCS none,
  // everything else R+W). Real images use it for their ELF's rights.
  uint8_t rights = 0;
};

// Real bytes for a spec's pages, by offset from BASEADDR (e.g. compiled code
// from an SGXS image): with them the builder, the signer and the policies'
// loaders use these instead of the synthetic pattern. Pages it lacks are
// zero.
using PageBytesByOffset = std::map<uint64_t, std::array<uint8_t, 4096>>;

struct EnclaveSpec {
  std::string name;   // seeds the synthetic page contents
  uint64_t size = 0;  // SECS.SIZE: a power of two covering every region
  uint64_t base = 0;  // BASEADDR, aligned to size
  uint32_t ssa_frame_size = 1;
  // EnTurbo: pages per measurement range (0: one SGX measurement chain).
  uint32_t measure_range_pages = 0;
  std::vector<Region> regions;
  std::shared_ptr<const PageBytesByOffset> contents;  // nullptr: synthetic
  // A plugin: the MRENCLAVE hosts name for it in their manifests, which
  // EMAP compares (PIE §IV-C); default its own. A tenant who pins another
  // value gets SGX_INVALID_MEASUREMENT at EMAP.
  std::optional<crypto::Sha256Digest> expected_mrenclave;

  uint64_t PagesAdded() const;
  uint64_t TotalPages() const;
  // The first region of `kind`, or nullptr.
  const Region* Find(RegionKind kind) const;
  // The bytes of the page at `offset` (in `region`, the `index`th page in
  // spec order): real contents if the spec has them, else synthetic code
  // and data, a TCS built from the spec, or zeros.
  void PageAt(const Region& region, uint64_t offset, uint64_t index, MutableByteSpan out) const;
};

// A host or plain SGX enclave: [code][data][heap][TCS][SSA][stack], with
// `plugin_span` bytes free at the bottom for EMAPped plugins (PIE Fig. 8a).
// Size is rounded up to a power of two; base is `base` (must be aligned).
struct SpecParams {
  std::string name;
  uint64_t base = 0;
  uint64_t plugin_span = 0;
  uint64_t code_pages = 0;
  uint64_t data_pages = 0;
  uint64_t heap_pages = 0;
  uint64_t stack_pages = 16;
  bool heap_added = true;     // EADD the heap (SGX1) or leave it to EAUG (SGX2)
  bool heap_measured = true;  // EEXTEND the heap (sgx1-cold) or zero it in software
  bool code_measured = true;  // EEXTEND code and data
};
EnclaveSpec HostSpec(const SpecParams& params);
// A plugin of `pages` PT_SREG code pages at `base`.
EnclaveSpec PluginSpec(std::string name, uint64_t base, uint64_t pages);
// The smallest power of two >= max(bytes, 8 KiB).
uint64_t PowerOfTwoSize(uint64_t bytes);

// The value EINIT will compare (MRENCLAVE, or EnTurbo's split value), in the
// machine's page-contents mode, and a SIGSTRUCT signed over it.
crypto::Sha256Digest ExpectedMeasurement(const EnclaveSpec& spec, machine::PageContents mode);
StatusOr<machine::Sigstruct> SignSpec(const EnclaveSpec& spec, machine::PageContents mode,
                                      const crypto::Rsa3072PrivateKey& key);

// The synthetic contents of page `index` (counting pages of the spec in
// order) of an enclave named `name`.
void FillPage(const std::string& name, uint64_t index, MutableByteSpan page);

struct BuiltEnclave {
  EpcPage secs = 0;
  uint64_t base = 0;
  uint64_t size = 0;
  uint64_t tcs_linaddr = 0;
  crypto::Sha256Digest mrenclave{};
  crypto::Sha256Digest expected{};  // EnclaveSpec::expected_mrenclave, or mrenclave
};

struct BuildOptions {
  bool einit = true;  // stop before EINIT when false
  // Called after the EADD of each measured page instead of issuing its
  // EEXTENDs on the build core (EnTurbo measures on worker cores).
  std::function<Status(EpcPage secs, uint64_t linaddr)> measure;
};

// ECREATE, then EADD (+ EEXTEND) of every added page in spec order, then
// EINIT with `sig`. Pages come from the driver (which may evict). Calls
// ctx yield every 64 pages via `yield` if given. On failure, everything
// built so far is destroyed.
StatusOr<BuiltEnclave> BuildEnclave(EpcDriver& driver, CoreId core, const EnclaveSpec& spec,
                                    const machine::Sigstruct& sig, const BuildOptions& options,
                                    const std::function<void(CoreId)>& yield = {});

// EREMOVEs everything (through the driver). A plugin must be unmapped.
Status DestroyEnclave(EpcDriver& driver, CoreId core, const BuiltEnclave& e);

}  // namespace confide::platform
