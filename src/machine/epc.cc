#include "machine/epc.h"

#include <sys/mman.h>

#include <fmt/format.h>

namespace confide::machine {

StatusOr<Epc> Epc::Create(uint32_t pages, PageContents contents) {
  if (pages < 2) return InvalidArgumentError("EPC needs at least 2 pages");
  size_t bytes = size_t{pages} * kPageSize;
  // SAFETY: anonymous private mapping owned by the Epc and unmapped in the
  // destructor; MAP_NORESERVE keeps untouched EPC pages from costing memory.
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    return ResourceExhaustedError(fmt::format("cannot map an EPC of {} pages", pages));
  // SAFETY: advice on the mapping just created, same address and length. A
  // failure (a kernel without THP) only costs memory, so it is ignored.
  if (contents == PageContents::kCostOnly) (void)::madvise(p, bytes, MADV_NOHUGEPAGE);
  return Epc(static_cast<uint8_t*>(p), pages);
}

Epc::Epc(uint8_t* base, uint32_t pages) : base_(base), epcm_(pages) {}

Epc::Epc(Epc&& other) noexcept : base_(other.base_), epcm_(std::move(other.epcm_)) {
  other.base_ = nullptr;
}

Epc::~Epc() {
  // SAFETY: base_ was returned by mmap with exactly this length.
  if (base_) ::munmap(base_, epcm_.size() * kPageSize);
}

}  // namespace confide::machine
