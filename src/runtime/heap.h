// heap.h — the library OS's page allocator: brk and anonymous mmap served
// from one fixed region, the enclave heap (thread-info heap_offset/heap_size).
//
// An enclave cannot ask an OS for memory: every page it may use was added
// (SGX1) or will be accepted (SGX2) at a fixed place, and the page tables
// are the monitor's. So brk, mmap, munmap, mremap and madvise are bookkeeping
// over that region, with Linux's results (numbers and -errno as the x86-64
// syscalls return them, so the dispatcher passes them through):
//
//   region start                                               region end
//   | bitmap pages | brk area -> ...free...   <- mmap blocks (top down) |
//
// One bit per page says "in use". brk grows up from the bottom, mmap takes the
// highest free run above the break, so the two meet only when the heap is
// full. Memory handed out is zeroed (Linux guarantees zero pages for brk and
// anonymous mmap, and the heap's initial contents are the host's choice when
// it is not measured). Protections cannot be honoured (every heap page is RW,
// NX in the EPCM): PROT_NONE is accepted and ignored, PROT_EXEC refused.
//
// Pure C with no system calls, so the same file is built into the enclave
// (musl) and into the host unit tests (tests/runtime/heap_test.cc).
//
// Thread-safety: none; the runtime runs one thread at a time.
#ifndef CONFIDE_RUNTIME_HEAP_H_
#define CONFIDE_RUNTIME_HEAP_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CONFIDE_HEAP_PAGE 4096ul

struct confide_heap {
  uint64_t* used;    // bitmap over the managed pages, at the region start
  uintptr_t base;    // first managed page (after the bitmap)
  size_t pages;      // managed pages
  uintptr_t brk;     // the program break, base <= brk
  size_t brk_pages;  // pages [0, brk_pages) belong to the brk area
};

// Takes [region, region + size) (rounded inward to pages) for the heap and
// writes its bitmap at the start. An empty or too small region gives a heap
// where every allocation fails.
void confide_heap_init(struct confide_heap* h, void* region, size_t size);

// brk(2): sets the break to `addr` if it lies in [base, end of the heap) and
// the pages it adds are free; returns the break (the old one on failure,
// brk(0) returns the current one), as the Linux syscall does.
uintptr_t confide_heap_brk(struct confide_heap* h, uintptr_t addr);

// mmap(2), munmap(2), mremap(2), madvise(2) for anonymous private memory
// inside the heap. Results: an address, 0, or -errno.
long confide_heap_mmap(struct confide_heap* h, uintptr_t addr, size_t len, int prot, int flags,
                       int fd, long offset);
long confide_heap_munmap(struct confide_heap* h, uintptr_t addr, size_t len);
long confide_heap_mremap(struct confide_heap* h, uintptr_t old_addr, size_t old_len, size_t new_len,
                         int flags, uintptr_t new_addr);
long confide_heap_madvise(struct confide_heap* h, uintptr_t addr, size_t len, int advice);

// Pages in use (brk area and mmap blocks), for tests and statistics.
size_t confide_heap_used_pages(const struct confide_heap* h);

#ifdef __cplusplus
}
#endif

#endif  // CONFIDE_RUNTIME_HEAP_H_
