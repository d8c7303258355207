// malloc.h — the enclave's malloc: C's allocation functions served straight
// from the library OS's heap (heap.h), with no system call.
//
// Why: musl's mallocng gets its memory with brk, mmap and munmap, and in an
// enclave every one of those is a syscall reflected by the monitor, a VM exit
// of ~125 µs on nested KVM. A trivial Lua function made 20 of them. This
// allocator calls confide_heap_mmap and confide_heap_munmap as functions
// instead, so malloc costs no exit.
//
// The core is these confide_ functions over a struct confide_malloc, which
// names its heap; the host's unit tests (tests/runtime/malloc_test.cc) build
// it against glibc and their own heap. malloc.c also defines malloc, free,
// calloc, realloc, aligned_alloc, posix_memalign, memalign and
// malloc_usable_size over the library OS's heap (libos.h), replacing
// mallocng in the enclave's static link; that part is left out when
// CONFIDE_MALLOC_CORE_ONLY is defined (the host tests), so glibc's malloc,
// and a sanitizer's, stay in place there.
//
// Results follow C: NULL with errno ENOMEM when memory runs out or a size
// overflows, EINVAL for a bad alignment. Every block is 16-byte aligned.
//
// Thread-safety: none; one thread runs in the enclave at a time.
#ifndef CONFIDE_RUNTIME_MALLOC_H_
#define CONFIDE_RUNTIME_MALLOC_H_

#include <stddef.h>

#include "runtime/heap.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CONFIDE_MALLOC_CLASSES 24      // small size classes, 24 .. 2056 bytes
#define CONFIDE_MALLOC_SMALL_MAX 2056  // larger requests get pages of their own

// The allocator's state; zero it, or call confide_malloc_init. It borrows the
// heap, which must outlive it.
struct confide_malloc {
  struct confide_heap* heap;
  void* free_list[CONFIDE_MALLOC_CLASSES];  // freed small blocks, per class
  uintptr_t bump_lo, bump_hi;               // never used part of the chunks: carved from the top
};

void confide_malloc_init(struct confide_malloc* m, struct confide_heap* heap);

void* confide_malloc(struct confide_malloc* m, size_t size);
void confide_free(struct confide_malloc* m, void* p);
void* confide_calloc(struct confide_malloc* m, size_t n, size_t size);
void* confide_realloc(struct confide_malloc* m, void* p, size_t size);
// REQUIRES for a non-NULL result: align is a power of two (else EINVAL).
void* confide_aligned_alloc(struct confide_malloc* m, size_t align, size_t size);
size_t confide_malloc_usable_size(const struct confide_malloc* m, const void* p);

#ifdef __cplusplus
}
#endif

#endif  // CONFIDE_RUNTIME_MALLOC_H_
