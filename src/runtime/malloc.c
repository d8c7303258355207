// malloc.c — the enclave's malloc over the library OS's heap (see malloc.h).
//
// Why not musl's mallocng: it asks for memory with brk, mmap and munmap, and
// inside an enclave each of those is a reflected syscall, a VM exit (~125 µs
// here). The heap that serves those syscalls (heap.c) is plain C in the same
// address space, so this file calls it directly and malloc never exits.
//
// Every block is 16-byte aligned and has an 8-byte tag just below it, which
// tells free and realloc its kind:
//
//   small (<= 2056 bytes): 24 size classes whose blocks, tag included, take
//     32..144 bytes by 16, then four per power of two up to 2064. A block
//     starts 8 bytes off the 16-byte grid so that the tag costs 8 bytes, not
//     16 (Lua's objects are mostly 24..64 bytes). Freed blocks go onto their
//     class's free list (the link is in the block itself) and are never
//     merged. New blocks are carved from the top of 16-page chunks mapped
//     from the heap; the heap maps from the top down, so the next chunk
//     usually lies right below the last and just extends the carving area.
//     Chunks are never given back (a known limit: pages that held small
//     blocks do not serve large ones again).
//   large: whole pages of their own (confide_heap_mmap) with the block's
//     size below the tag, given back by free (confide_heap_munmap); realloc
//     uses confide_heap_mremap, which grows in place when the pages above
//     are free and copies otherwise.
//
// Chunks and large blocks come from the heap's mmap side only, never brk, so
// that musl's internal allocator (lite_malloc, should a libc function that
// calls __libc_malloc be linked) can still use brk without the two fighting
// over the break.
//
// The heap zeroes what it maps, so calloc clears only reused blocks.
// Thread-safety: none (one thread in the enclave); no locks.
#define _GNU_SOURCE  // MREMAP_MAYMOVE
#include "runtime/malloc.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE CONFIDE_HEAP_PAGE
#define TAG ((size_t)8)            // below every block
#define LARGE_HEADER ((size_t)16)  // a large block's size, then its tag
#define CHUNK (16 * PAGE)
// Larger requests fail at once: no heap holds them, and below this bound the
// size arithmetic (request + alignment + a page) cannot overflow.
#define MAX_REQUEST (SIZE_MAX / 4)

// Tags: a magic in the upper bits so that free and realloc of a pointer that
// malloc did not return (or a small block freed twice) trap instead of
// corrupting the free lists.
#define TAG_MASK 0xffffff00u
#define TAG_SMALL 0xc0f1d100u  // | class
#define TAG_FREE 0xc0f1d200u   // | class: on a free list
#define TAG_LARGE 0xc0f1d300u

struct tag {
  uint32_t tag;     // TAG_SMALL/TAG_FREE | class, or TAG_LARGE
  uint32_t offset;  // large: from the start of its pages to its header
};
_Static_assert(sizeof(struct tag) == TAG, "a small block and its tag are a multiple of 16");

// Usable bytes per class; with the tag, each block is a multiple of 16.
static const uint16_t kClassSize[CONFIDE_MALLOC_CLASSES] = {
    24,  40,  56,  72,  88,  104, 120, 136,  168,  200,  232,  264,
    328, 392, 456, 520, 648, 776, 904, 1032, 1288, 1544, 1800, 2056};

// The smallest class that holds n bytes, n <= CONFIDE_MALLOC_SMALL_MAX.
static unsigned class_of(size_t n) {
  if (n <= 24) return 0;
  size_t m = n - TAG;  // 17 .. 2048
  if (m <= 128) return (unsigned)((m + 15) / 16 - 1);
  // (2^p, 2^(p+1)] is split into four classes of 2^(p-2) bytes each.
  m--;
  unsigned p = 63u - (unsigned)__builtin_clzll(m);  // 7 .. 10
  return 8 + (p - 7) * 4 + (unsigned)((m >> (p - 2)) & 3);
}

static size_t block_size(unsigned c) { return TAG + kClassSize[c]; }

static uintptr_t round_up(uintptr_t x, uintptr_t align) { return (x + align - 1) & ~(align - 1); }

static struct tag* tag_of(const void* p) {
  struct tag* t = (struct tag*)((uintptr_t)p - TAG);
  int ok = (uintptr_t)p % 16 == 0;
  if (ok && (t->tag & TAG_MASK) == TAG_SMALL) {
    ok = (t->tag & ~TAG_MASK) < CONFIDE_MALLOC_CLASSES;
  } else {
    ok = ok && t->tag == TAG_LARGE;
  }
  if (!ok) __builtin_trap();  // not ours, or freed already: memory is corrupt
  return t;
}

static unsigned class_of_tag(const struct tag* t) { return t->tag & ~TAG_MASK; }

// A large block's usable size, stored below its tag.
static size_t* large_size(struct tag* t) { return (size_t*)t - 1; }

static size_t usable(struct tag* t) {
  return t->tag == TAG_LARGE ? *large_size(t) : kClassSize[class_of_tag(t)];
}

static long map_pages(struct confide_malloc* m, size_t len) {
  return confide_heap_mmap(m->heap, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                           0);
}

void confide_malloc_init(struct confide_malloc* m, struct confide_heap* heap) {
  memset(m, 0, sizeof *m);
  m->heap = heap;
}

// ---- small blocks -------------------------------------------------------------

static void push_free(struct confide_malloc* m, struct tag* t, unsigned c) {
  t->tag = TAG_FREE | c;
  void** link = (void**)(t + 1);
  *link = m->free_list[c];
  m->free_list[c] = link;
}

static void* pop_free(struct confide_malloc* m, unsigned c) {
  void** link = m->free_list[c];
  m->free_list[c] = *link;
  ((struct tag*)link - 1)->tag = TAG_SMALL | c;
  return link;
}

// Takes a block of class c from the top of the carving area. bump_hi stays
// 8 bytes off the 16-byte grid, so the block after the tag is aligned.
static struct tag* carve(struct confide_malloc* m, unsigned c) {
  m->bump_hi -= block_size(c);
  struct tag* t = (struct tag*)m->bump_hi;
  t->offset = 0;
  return t;
}

// Puts what is left of the carving area onto the free lists, largest class
// first, before the area moves to a new chunk.
static void scatter_leftover(struct confide_malloc* m) {
  while (m->bump_hi - m->bump_lo >= block_size(0)) {
    unsigned c = CONFIDE_MALLOC_CLASSES - 1;
    while (block_size(c) > m->bump_hi - m->bump_lo) c--;
    push_free(m, carve(m, c), c);
  }
}

// Makes at least one page available for carving: a chunk, or a single page
// when the heap has no run of CHUNK bytes left.
static int refill(struct confide_malloc* m) {
  size_t len = CHUNK;
  long r = map_pages(m, len);
  if (r < 0) {
    len = PAGE;  // holds any small block
    r = map_pages(m, len);
    if (r < 0) return 0;
  }
  uintptr_t chunk = (uintptr_t)r;
  if (chunk + len == m->bump_lo) {  // right below: one area
    m->bump_lo = chunk;
    return 1;
  }
  scatter_leftover(m);
  m->bump_lo = chunk;
  m->bump_hi = chunk + len - TAG;
  return 1;
}

// *fresh: the block was never handed out before, so it is still zero.
static void* small_alloc(struct confide_malloc* m, size_t n, int* fresh) {
  unsigned c = class_of(n);
  *fresh = 0;
  if (m->free_list[c]) return pop_free(m, c);
  if (m->bump_hi - m->bump_lo >= block_size(c) || refill(m)) {
    struct tag* t = carve(m, c);
    t->tag = TAG_SMALL | c;
    *fresh = 1;
    return t + 1;
  }
  // The heap is full: a free block of a larger class will do.
  for (unsigned k = c + 1; k < CONFIDE_MALLOC_CLASSES; k++) {
    if (m->free_list[k]) return pop_free(m, k);
  }
  return NULL;
}

// ---- large blocks -------------------------------------------------------------

// Pages of their own for n bytes aligned to `align` (a power of two, >= 16).
// The mapping starts at most one page below the header: whole pages before
// it (only with align > PAGE) and after the block go back to the heap.
static void* large_alloc(struct confide_malloc* m, size_t n, size_t align) {
  size_t len = round_up(n + (align > LARGE_HEADER ? align : LARGE_HEADER), PAGE);
  long r = map_pages(m, len);
  if (r < 0) return NULL;
  uintptr_t map = (uintptr_t)r;
  uintptr_t user = round_up(map + LARGE_HEADER, align);
  uintptr_t lead = (user - LARGE_HEADER - map) & ~(PAGE - 1);
  if (lead != 0) {
    confide_heap_munmap(m->heap, map, lead);
    map += lead;
    len -= lead;
  }
  uintptr_t end = round_up(user + n, PAGE);
  if (end < map + len) {
    confide_heap_munmap(m->heap, end, map + len - end);
    len = end - map;
  }
  struct tag* t = (struct tag*)(user - TAG);
  t->tag = TAG_LARGE;
  t->offset = (uint32_t)(user - LARGE_HEADER - map);
  *large_size(t) = map + len - user;
  return (void*)user;
}

static uintptr_t large_map(struct tag* t) { return (uintptr_t)large_size(t) - t->offset; }
static size_t large_len(struct tag* t) { return t->offset + LARGE_HEADER + *large_size(t); }

// ---- the C functions ----------------------------------------------------------

static void* alloc(struct confide_malloc* m, size_t n, int* fresh) {
  void* p;
  if (n <= CONFIDE_MALLOC_SMALL_MAX) {
    p = small_alloc(m, n, fresh);  // malloc(0) too: a unique block, as musl gives
  } else {
    *fresh = 1;
    p = n <= MAX_REQUEST ? large_alloc(m, n, 16) : NULL;
  }
  if (!p) errno = ENOMEM;
  return p;
}

void* confide_malloc(struct confide_malloc* m, size_t size) {
  int fresh;
  return alloc(m, size, &fresh);
}

void confide_free(struct confide_malloc* m, void* p) {
  if (!p) return;
  struct tag* t = tag_of(p);
  if (t->tag == TAG_LARGE) {
    confide_heap_munmap(m->heap, large_map(t), large_len(t));
  } else {
    push_free(m, t, class_of_tag(t));
  }
}

void* confide_calloc(struct confide_malloc* m, size_t n, size_t size) {
  if (size != 0 && n > SIZE_MAX / size) {
    errno = ENOMEM;
    return NULL;
  }
  int fresh;
  void* p = alloc(m, n * size, &fresh);
  if (p && !fresh) memset(p, 0, n * size);
  return p;
}

void* confide_realloc(struct confide_malloc* m, void* p, size_t size) {
  if (!p) return confide_malloc(m, size);
  struct tag* t = tag_of(p);
  size_t have = usable(t);
  if (size > MAX_REQUEST) {
    errno = ENOMEM;
    return NULL;
  }
  if (t->tag == TAG_LARGE && size > CONFIDE_MALLOC_SMALL_MAX) {
    // Pages: shrink or grow in place, or move (the heap copies them).
    size_t offset = t->offset;
    size_t len = round_up(offset + LARGE_HEADER + size, PAGE);
    long r = confide_heap_mremap(m->heap, large_map(t), large_len(t), len, MREMAP_MAYMOVE, 0);
    if (r < 0) {
      errno = ENOMEM;
      return NULL;
    }
    uintptr_t user = (uintptr_t)r + offset + LARGE_HEADER;  // the header moved with the pages
    *large_size(tag_of((void*)user)) = len - offset - LARGE_HEADER;
    return (void*)user;
  }
  // Shrinking: keep the block unless it would waste more than half of it
  // (Lua shrinks its vectors to fit after loading a chunk).
  if (size <= have && 2 * (size_t)kClassSize[class_of(size)] > have) return p;
  void* q = confide_malloc(m, size);
  if (!q) {
    if (size <= have) return p;  // shrinking cannot fail: keep the old block
    return NULL;
  }
  memcpy(q, p, size < have ? size : have);
  confide_free(m, p);
  return q;
}

void* confide_aligned_alloc(struct confide_malloc* m, size_t align, size_t size) {
  if (align == 0 || (align & (align - 1)) != 0) {
    errno = EINVAL;
    return NULL;
  }
  if (align <= 16) return confide_malloc(m, size);
  // Rare (Lua never asks): whole pages, whatever the size.
  void* p = size <= MAX_REQUEST && align <= MAX_REQUEST ? large_alloc(m, size, align) : NULL;
  if (!p) errno = ENOMEM;
  return p;
}

size_t confide_malloc_usable_size(const struct confide_malloc* m, const void* p) {
  (void)m;
  return p ? usable(tag_of(p)) : 0;
}

// ---- the enclave's malloc -----------------------------------------------------
//
// These definitions keep libc.a's malloc objects out of the static link:
// musl (1.2.3, src/malloc) defines each public allocation function in a file
// of its own, so all that a program may call must be here. Others are built
// on them (valloc on memalign, reallocarray on realloc, strdup on malloc).
// musl's own internal __libc_malloc (locales, time zones, atexit beyond 32
// handlers) is not routed here: it is musl-private and rare (no runtime ELF
// links it today), and lite_malloc serves it over brk.
#ifndef CONFIDE_MALLOC_CORE_ONLY
#ifdef __GLIBC__
#error "the public malloc is for the enclave (musl); host builds define CONFIDE_MALLOC_CORE_ONLY"
#endif
#include <malloc.h>
#include <stdlib.h>

#include "runtime/libos.h"

static struct confide_malloc g_malloc;

// The heap exists before musl starts (confide_libos_init), so before the
// first malloc.
static struct confide_malloc* enclave_malloc(void) {
  if (!g_malloc.heap) confide_malloc_init(&g_malloc, confide_libos_heap());
  return &g_malloc;
}

void* malloc(size_t size) { return confide_malloc(enclave_malloc(), size); }
void free(void* p) { confide_free(enclave_malloc(), p); }
void* calloc(size_t n, size_t size) { return confide_calloc(enclave_malloc(), n, size); }
void* realloc(void* p, size_t size) { return confide_realloc(enclave_malloc(), p, size); }
void* aligned_alloc(size_t align, size_t size) {
  return confide_aligned_alloc(enclave_malloc(), align, size);
}
void* memalign(size_t align, size_t size) {
  return confide_aligned_alloc(enclave_malloc(), align, size);
}
int posix_memalign(void** res, size_t align, size_t size) {
  if (align < sizeof(void*) || (align & (align - 1)) != 0) return EINVAL;
  void* p = confide_aligned_alloc(enclave_malloc(), align, size);
  if (!p) return ENOMEM;
  *res = p;
  return 0;
}
size_t malloc_usable_size(void* p) { return confide_malloc_usable_size(enclave_malloc(), p); }
#endif  // CONFIDE_MALLOC_CORE_ONLY
