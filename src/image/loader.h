// loader.h — creates an enclave on the machine from an image: the work of an
// SGX driver's "add pages" path. ECREATE, then per page in image order EADD
// and the EEXTENDs of its measured chunks, then EINIT with the SIGSTRUCT.
//
// EPC pages are taken with Machine::FindFreePage. A failed load removes every
// page it added, so the EPC is left as it was found.
//
// Usage:
//   CONFIDE_ASSIGN_OR_RETURN(LoadedEnclave e,
//       LoadEnclave(machine, /*core=*/0, image, sigstruct, /*base=*/0x40000000));
//   ... machine.Eenter(0, e.tcs[0]) ...
//   CONFIDE_RETURN_IF_ERROR(UnloadEnclave(machine, 0, e));
//
// Thread-safety: as the machine; distinct enclaves may load in parallel.
#pragma once

#include <vector>

#include "base/status.h"
#include "image/sgxs.h"
#include "machine/machine.h"

namespace confide::image {

struct LoadedEnclave {
  machine::EpcPage secs = 0;
  uint64_t base = 0;
  std::vector<machine::EpcPage> pages;  // every non-SECS page, in image order
  std::vector<machine::EpcPage> tcs;    // the TCS pages, in image order
};

struct LoadOptions {
  uint64_t base = 0;  // BASEADDR; must be aligned to the image's SIZE
  // SECS.ATTRIBUTES at ECREATE; by default the SIGSTRUCT's (without INIT).
  std::optional<machine::Attributes> attributes;
  uint32_t misc_select = 0;
  bool einit = true;  // false: stop before EINIT (for callers measuring phases)
};

// REQUIRES: no core is inside an enclave on `core`.
StatusOr<LoadedEnclave> LoadEnclave(machine::Machine& m, machine::CoreId core,
                                    const SgxsImage& image, const machine::Sigstruct& sig,
                                    const LoadOptions& options);

// EREMOVEs every page, then the SECS (a plugin must be unmapped first).
Status UnloadEnclave(machine::Machine& m, machine::CoreId core, const LoadedEnclave& e);

}  // namespace confide::image
