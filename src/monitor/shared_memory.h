// shared_memory.h — a memfd with one shared mapping: memory that several
// micro-VMs (KVM slots via Vm::MapFd) and the host see at once. The monitor
// uses it for page-table frames (shared by every VM, so plugin subtrees are
// shared) and for each VM's private system region.
//
// Ownership: SharedMemory owns the fd and the mapping. Mappings made from
// fd() by others (KVM slots) stay valid after it is destroyed; the host
// span does not.
//
// Thread-safety: the object is immutable; the bytes are not synchronized.
#pragma once

#include <cstdint>
#include <string>

#include "base/bytes.h"
#include "base/status.h"

namespace confide::monitor {

class SharedMemory {
 public:
  // `bytes` is rounded up to whole pages; the memory reads as zero.
  // ResourceExhaustedError if it cannot be created.
  static StatusOr<SharedMemory> Create(const std::string& name, uint64_t bytes);
  SharedMemory(SharedMemory&& other) noexcept;
  SharedMemory& operator=(SharedMemory&&) = delete;
  SharedMemory(const SharedMemory&) = delete;
  ~SharedMemory();

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }
  MutableByteSpan span() const { return {base_, size_}; }
  // Zeroes the memory by giving its pages back to the kernel: the cost is in
  // the pages that were touched, not in the size.
  Status Discard();

 private:
  SharedMemory(int fd, uint8_t* base, uint64_t size) : fd_(fd), base_(base), size_(size) {}
  int fd_;
  uint8_t* base_;
  uint64_t size_;
};

}  // namespace confide::monitor
