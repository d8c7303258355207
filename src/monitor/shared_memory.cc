#include "monitor/shared_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace confide::monitor {

StatusOr<SharedMemory> SharedMemory::Create(const std::string& name, uint64_t bytes) {
  if (bytes == 0) return InvalidArgumentError("empty shared memory");
  bytes = (bytes + 4095) & ~uint64_t{4095};
  int fd = ::memfd_create(name.c_str(), MFD_CLOEXEC);
  if (fd < 0) return ResourceExhaustedError(fmt::format("memfd_create: {}", std::strerror(errno)));
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    int err = errno;
    ::close(fd);
    return ResourceExhaustedError(fmt::format("ftruncate {} bytes: {}", bytes, std::strerror(err)));
  }
  // SAFETY: a shared mapping of the whole memfd just sized, owned by the
  // SharedMemory and unmapped in its destructor.
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    int err = errno;
    ::close(fd);
    return ResourceExhaustedError(fmt::format("mmap {} bytes: {}", bytes, std::strerror(err)));
  }
  return SharedMemory(fd, static_cast<uint8_t*>(p), bytes);
}

Status SharedMemory::Discard() {
  // Punching a hole frees the pages; they read as zero afterwards, in every
  // mapping (KVM's included), and untouched pages cost nothing.
  if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(size_)) !=
      0) {
    return InternalError(fmt::format("discarding shared memory: {}", std::strerror(errno)));
  }
  return OkStatus();
}

SharedMemory::SharedMemory(SharedMemory&& other) noexcept
    : fd_(other.fd_), base_(other.base_), size_(other.size_) {
  other.fd_ = -1;
  other.base_ = nullptr;
}

SharedMemory::~SharedMemory() {
  // SAFETY: the mapping made in Create, same length.
  if (base_ != nullptr) ::munmap(base_, size_);
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace confide::monitor
