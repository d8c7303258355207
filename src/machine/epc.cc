#include "machine/epc.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace confide::machine {

StatusOr<Epc> Epc::Create(uint32_t pages, PageContents contents) {
  if (pages < 2) return InvalidArgumentError("EPC needs at least 2 pages");
  size_t bytes = size_t{pages} * kPageSize;
  int fd = ::memfd_create("confide-epc", MFD_CLOEXEC);
  if (fd < 0) {
    return ResourceExhaustedError(
        fmt::format("cannot create the EPC memfd: {}", std::strerror(errno)));
  }
  // A fresh memfd is sparse: ftruncate reserves no memory, untouched pages
  // cost nothing and read as zero.
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    int err = errno;
    ::close(fd);
    return ResourceExhaustedError(
        fmt::format("cannot size an EPC of {} pages: {}", pages, std::strerror(err)));
  }
  // SAFETY: shared mapping of the whole memfd just sized to `bytes`, owned by
  // the Epc and unmapped in the destructor; MAP_NORESERVE keeps untouched EPC
  // pages from being charged up front.
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (p == MAP_FAILED) {
    ::close(fd);
    return ResourceExhaustedError(fmt::format("cannot map an EPC of {} pages", pages));
  }
  // SAFETY: advice on the mapping just created, same address and length. A
  // failure (a kernel without THP) only costs memory, so it is ignored.
  if (contents == PageContents::kCostOnly) (void)::madvise(p, bytes, MADV_NOHUGEPAGE);
  return Epc(fd, static_cast<uint8_t*>(p), pages);
}

Epc::Epc(int fd, uint8_t* base, uint32_t pages) : fd_(fd), base_(base), epcm_(pages) {}

Epc::Epc(Epc&& other) noexcept : fd_(other.fd_), base_(other.base_), epcm_(std::move(other.epcm_)) {
  other.fd_ = -1;
  other.base_ = nullptr;
}

Epc::~Epc() {
  // SAFETY: base_ was returned by mmap with exactly this length.
  if (base_) ::munmap(base_, epcm_.size() * kPageSize);
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace confide::machine
