// heap.c — brk and anonymous mmap over the enclave heap (see heap.h).
//
// Page granular, first fit from the top for mmap. The search skips whole
// bitmap words that are full, so even a 2 GiB heap (512 Ki pages, a 64 KiB
// bitmap) is scanned in a few thousand steps; the zeroing of what is handed
// out costs more than finding it.
#define _GNU_SOURCE  // MREMAP_MAYMOVE
#include "runtime/heap.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MAP_TYPE
#define MAP_TYPE 0x0f
#endif

#define PAGE CONFIDE_HEAP_PAGE

static size_t pages_for(size_t len) { return len / PAGE + (len % PAGE != 0); }

static int is_used(const struct confide_heap* h, size_t i) {
  return (int)((h->used[i / 64] >> (i % 64)) & 1);
}

static void mark(struct confide_heap* h, size_t first, size_t n, int used) {
  for (size_t i = first; i < first + n; i++) {
    uint64_t bit = 1ull << (i % 64);
    if (used) {
      h->used[i / 64] |= bit;
    } else {
      h->used[i / 64] &= ~bit;
    }
  }
}

static int all_free(const struct confide_heap* h, size_t first, size_t n) {
  for (size_t i = first; i < first + n; i++) {
    if (is_used(h, i)) return 0;
  }
  return 1;
}

static int all_used(const struct confide_heap* h, size_t first, size_t n) {
  for (size_t i = first; i < first + n; i++) {
    if (!is_used(h, i)) return 0;
  }
  return 1;
}

static void* page_address(const struct confide_heap* h, size_t i) {
  return (void*)(h->base + i * PAGE);
}

static void zero(const struct confide_heap* h, size_t first, size_t n) {
  memset(page_address(h, first), 0, n * PAGE);
}

// True if the n pages from `addr` (page aligned) lie in the managed area;
// *first receives the index of the first one.
static int inside(const struct confide_heap* h, uintptr_t addr, size_t n, size_t* first) {
  if (addr < h->base) return 0;
  size_t i = (addr - h->base) / PAGE;
  if (i > h->pages || n > h->pages - i) return 0;
  *first = i;
  return 1;
}

// The highest run of n free pages in [lo, pages): its first index, or -1.
static long find_run(const struct confide_heap* h, size_t lo, size_t n) {
  if (n == 0 || lo > h->pages || n > h->pages - lo) return -1;
  size_t run = 0;
  size_t i = h->pages;
  while (i > lo) {
    if (i % 64 == 0 && h->used[i / 64 - 1] == ~0ull) {  // a full word: skip it
      run = 0;
      i -= 64;
      continue;
    }
    i--;
    if (is_used(h, i)) {
      run = 0;
    } else if (++run == n) {
      return (long)i;
    }
  }
  return -1;
}

void confide_heap_init(struct confide_heap* h, void* region, size_t size) {
  memset(h, 0, sizeof *h);
  uintptr_t start = ((uintptr_t)region + PAGE - 1) & ~(PAGE - 1);
  uintptr_t end = ((uintptr_t)region + size) & ~(PAGE - 1);
  h->base = h->brk = start;
  if (size == 0 || end <= start) return;
  size_t total = (end - start) / PAGE;
  size_t bitmap_pages = pages_for((total + 63) / 64 * sizeof(uint64_t));
  if (bitmap_pages >= total) return;
  h->used = (uint64_t*)start;
  memset(h->used, 0, bitmap_pages * PAGE);
  h->base = h->brk = start + bitmap_pages * PAGE;
  h->pages = total - bitmap_pages;
}

uintptr_t confide_heap_brk(struct confide_heap* h, uintptr_t addr) {
  if (addr < h->base || addr - h->base > h->pages * PAGE) return h->brk;
  size_t want = pages_for(addr - h->base);
  if (want > h->brk_pages) {
    size_t add = want - h->brk_pages;
    if (!all_free(h, h->brk_pages, add)) return h->brk;  // an mmap block is in the way
    mark(h, h->brk_pages, add, 1);
    zero(h, h->brk_pages, add);
  } else if (want < h->brk_pages) {
    mark(h, want, h->brk_pages - want, 0);
  }
  h->brk_pages = want;
  h->brk = addr;
  return addr;
}

long confide_heap_mmap(struct confide_heap* h, uintptr_t addr, size_t len, int prot, int flags,
                       int fd, long offset) {
  (void)fd;  // ignored for MAP_ANONYMOUS, as Linux does
  if (len == 0 || (offset & (long)(PAGE - 1)) != 0) return -EINVAL;
  if (!(flags & MAP_ANONYMOUS) || (flags & MAP_TYPE) != MAP_PRIVATE) return -ENOSYS;
  if (prot & PROT_EXEC) return -EACCES;
  size_t n = pages_for(len);
  if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
    size_t first;
    if (addr % PAGE != 0) return -EINVAL;
    if (!inside(h, addr, n, &first)) return -ENOMEM;  // nothing can be mapped there
    if ((flags & MAP_FIXED_NOREPLACE) && !all_free(h, first, n)) return -EEXIST;
    mark(h, first, n, 1);  // a fixed mapping replaces what was there with zero pages
    zero(h, first, n);
    return (long)addr;
  }
  long first = find_run(h, h->brk_pages, n);
  if (first < 0) return -ENOMEM;
  mark(h, (size_t)first, n, 1);
  zero(h, (size_t)first, n);
  return (long)page_address(h, (size_t)first);
}

long confide_heap_munmap(struct confide_heap* h, uintptr_t addr, size_t len) {
  size_t first;
  if (len == 0 || addr % PAGE != 0) return -EINVAL;
  if (!inside(h, addr, pages_for(len), &first)) return -EINVAL;  // not the heap's to unmap
  mark(h, first, pages_for(len), 0);
  return 0;
}

long confide_heap_mremap(struct confide_heap* h, uintptr_t old_addr, size_t old_len, size_t new_len,
                         int flags, uintptr_t new_addr) {
  (void)new_addr;  // only with MREMAP_FIXED, which is refused
  if (old_addr % PAGE != 0 || old_len == 0 || new_len == 0) return -EINVAL;
  if (flags & ~MREMAP_MAYMOVE) return -EINVAL;
  size_t on = pages_for(old_len), nn = pages_for(new_len), first;
  if (!inside(h, old_addr, on, &first) || !all_used(h, first, on)) return -EFAULT;
  if (nn <= on) {  // shrink in place
    mark(h, first + nn, on - nn, 0);
    return (long)old_addr;
  }
  if (nn <= h->pages - first && all_free(h, first + on, nn - on)) {  // grow in place
    mark(h, first + on, nn - on, 1);
    zero(h, first + on, nn - on);
    return (long)old_addr;
  }
  if (!(flags & MREMAP_MAYMOVE)) return -ENOMEM;
  long moved = find_run(h, h->brk_pages, nn);
  if (moved < 0) return -ENOMEM;
  mark(h, (size_t)moved, nn, 1);
  memcpy(page_address(h, (size_t)moved), page_address(h, first), on * PAGE);
  zero(h, (size_t)moved + on, nn - on);
  mark(h, first, on, 0);
  return (long)page_address(h, (size_t)moved);
}

long confide_heap_madvise(struct confide_heap* h, uintptr_t addr, size_t len, int advice) {
  size_t first;
  if (addr % PAGE != 0) return -EINVAL;
  if (len == 0) return 0;
  if (!inside(h, addr, pages_for(len), &first)) return -ENOMEM;
  if (advice == MADV_DONTNEED) {  // private anonymous pages read back as zero
    for (size_t i = first; i < first + pages_for(len); i++) {
      if (is_used(h, i)) zero(h, i, 1);
    }
  }
  return 0;  // every other advice is a hint
}

size_t confide_heap_used_pages(const struct confide_heap* h) {
  size_t n = 0;
  for (size_t w = 0; w < (h->pages + 63) / 64; w++) n += (size_t)__builtin_popcountll(h->used[w]);
  return n;
}
