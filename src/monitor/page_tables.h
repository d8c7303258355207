// page_tables.h — x86-64 4-level page tables, built by the monitor from the
// EPCM into monitor-private frames. Pure: no KVM, no guest running; tests walk
// the tables in software.
//
// Three pieces:
//   * FrameArena — the memory that holds page-table frames (a span the caller
//     owns, which a VM sees at a guest-physical base, guest_layout.h). Every
//     entry write goes through it and is counted.
//   * AddressSpace — one PML4 (a CR3 value): 4 KiB mappings of enclave pages,
//     and links to shared subtrees.
//   * Subtree — a table below the PML4 (PDPT, PD or PT) that covers one
//     aligned linear range (e.g. a plugin's ELRANGE), built once and linked
//     into any number of address spaces by a single entry write each: PIE's
//     EMAP is O(1) in entries regardless of the plugin's size.
//
//   linking a PD-level plugin subtree (covers 1 GiB at `base`)
//
//     host A PML4 -> PDPT_A --[entry for base]--+
//                                               +--> plugin PD -> PTs -> EPC pages (R/X, never W)
//     host B PML4 -> PDPT_B --[entry for base]--+
//
// Entry bits (SDM Vol. 3A §4.5, Table 4-19/20): P(0) RW(1) US(2) A(5) D(6)
// PS(7) XD(63), address 51:12. Effective rights are the AND of RW and US and
// the OR of XD along the walk; intermediate entries grant RW|US (a
// supervisor subtree's link entry grants no US), leaves decide. A and D are
// preset so the CPU does not write to shared tables.
//
// Usage:
//   auto arena = FrameArena::Create(memory, kPageTableGpa).value();
//   auto as = AddressSpace::Create(*arena).value();
//   as.Map(0x10000, EpcPageGpa(7), LeafFlagsFromEpcm(secinfo::kR | secinfo::kX, false));
//   auto plugin = Subtree::Create(*arena, 1ull << 30, TableLevel::kPd,
//                                 SubtreeAccess::kUserReadOnly).value();
//   plugin.Map(...); as.Link(plugin);
//   sregs.cr3 = as.cr3();
//
// Ownership: FrameArena borrows its memory (which must outlive it).
// AddressSpace and Subtree borrow the arena (which must outlive them) and
// free the frames they allocated when destroyed; a destroyed AddressSpace
// drops its links. REQUIRES: a Subtree outlives every AddressSpace linking it.
//
// Thread-safety: none. The caller serializes all use of one arena (and of
// the address spaces and subtrees in it), and edits tables only while no
// vCPU runs on them (after a change that removes rights the guest TLB must
// be flushed before the next run: see monitor/vcpu_setup.h).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"

namespace confide::monitor {

// The level of a table: a table of level L is pointed to by an entry of a
// level L+1 table. kPml4 is the root.
enum class TableLevel : uint8_t { kPt = 1, kPd = 2, kPdpt = 3, kPml4 = 4 };

// Bytes of linear address space one table of `level` covers:
// PT 2 MiB, PD 1 GiB, PDPT 512 GiB, PML4 256 TiB.
uint64_t TableCoverage(TableLevel level);

namespace pte {
inline constexpr uint64_t kPresent = 1ull << 0;
inline constexpr uint64_t kWritable = 1ull << 1;
inline constexpr uint64_t kUser = 1ull << 2;
inline constexpr uint64_t kAccessed = 1ull << 5;
inline constexpr uint64_t kDirty = 1ull << 6;
inline constexpr uint64_t kLargePage = 1ull << 7;
inline constexpr uint64_t kNoExecute = 1ull << 63;
inline constexpr uint64_t kAddressMask = 0x000f'ffff'ffff'f000ull;
}  // namespace pte

// The rights of one 4 KiB leaf.
struct PageFlags {
  bool writable = false;
  bool user = true;
  bool executable = false;
};

// Leaf flags for an enclave page with EPCM permissions `epcm_perms`
// (secinfo::kR | kW | kX). x86 cannot express "not readable": any present
// page is readable, so R is implied. A plugin (PT_SREG) page is never
// writable, whatever its EPCM says: a write faults into copy-on-write.
PageFlags LeafFlagsFromEpcm(uint8_t epcm_perms, bool plugin_page);

// The result of a software walk.
struct WalkResult {
  uint64_t gpa = 0;  // guest-physical address of the byte at linaddr
  bool writable = false;
  bool user = false;
  bool executable = false;
};

// Frames are handed out per pool. A freed frame is quarantined in its pool
// until Recycle: KVM caches what it derived from a page table (shadow page
// tables, TLB entries) and cannot see the monitor's host-side writes, so a
// frame may be reused only after every VM that may have walked it has
// dropped those caches (Vm::Reregister of the page-table slot). Giving each
// VM its own pool keeps that a local decision; the shared subtrees
// (monitor, window, plugins) live in kSharedPool.
using FramePool = uint32_t;
inline constexpr FramePool kSharedPool = 0;

class FrameArena {
 public:
  // `memory` (borrowed, 4 KiB aligned, a nonzero multiple of 4 KiB) is what
  // the guest sees at `gpa_base` (4 KiB aligned). InvalidArgumentError else.
  static StatusOr<std::unique_ptr<FrameArena>> Create(MutableByteSpan memory, uint64_t gpa_base);
  FrameArena(const FrameArena&) = delete;
  FrameArena& operator=(const FrameArena&) = delete;

  // A zeroed frame's guest-physical address: one recycled in `pool`, else a
  // never-used one; ResourceExhaustedError if there is neither.
  StatusOr<uint64_t> Allocate(FramePool pool = kSharedPool);
  // Quarantines the frame in `pool`. REQUIRES: `gpa` came from Allocate(pool)
  // and no table references it.
  void Free(uint64_t gpa, FramePool pool = kSharedPool);
  // Makes `pool`'s quarantined frames allocatable again. REQUIRES: no VM
  // holds cached translations derived from them.
  void Recycle(FramePool pool);
  size_t quarantined(FramePool pool) const;
  // A pool id not handed out before.
  FramePool NewPool() { return next_pool_++; }
  // Never-used frames left.
  uint64_t fresh_frames() const { return frame_count() - next_fresh_; }

  bool Contains(uint64_t gpa) const;
  // Entry `index` (0..511) of the table at `table_gpa`.
  // REQUIRES: Contains(table_gpa), table_gpa 4 KiB aligned.
  uint64_t ReadEntry(uint64_t table_gpa, unsigned index) const;
  void WriteEntry(uint64_t table_gpa, unsigned index, uint64_t value);

  uint64_t gpa_base() const { return gpa_base_; }
  uint64_t frame_count() const { return memory_.size() / 4096; }
  uint64_t frames_in_use() const { return in_use_; }
  // Number of WriteEntry calls so far (the cost measure of mapping).
  uint64_t entry_writes() const { return entry_writes_; }

 private:
  FrameArena(MutableByteSpan memory, uint64_t gpa_base);
  MutableByteSpan memory_;
  uint64_t gpa_base_;
  uint64_t next_fresh_ = 0;  // frames below this were handed out at least once
  struct Pool {
    std::vector<uint64_t> clean;        // allocatable
    std::vector<uint64_t> quarantined;  // freed, awaiting Recycle
  };
  std::map<FramePool, Pool> pools_;
  FramePool next_pool_ = kSharedPool + 1;
  uint64_t in_use_ = 0;
  uint64_t entry_writes_ = 0;
};

enum class SubtreeAccess : uint8_t {
  kUserReadOnly,  // plugin pages: U=1, never W
  kUserData,      // the untrusted I/O window: U=1, W=1, never X
  kSupervisor,    // monitor pages: U=0 (enclave code cannot touch them)
};

class Subtree {
 public:
  // A table of `level` (kPt, kPd or kPdpt) covering
  // [base, base + TableCoverage(level)). InvalidArgumentError if `base` is
  // not aligned to the coverage or not canonical.
  static StatusOr<Subtree> Create(FrameArena& arena, uint64_t base, TableLevel level,
                                  SubtreeAccess access);
  Subtree(Subtree&& other) noexcept;
  Subtree& operator=(Subtree&&) = delete;
  Subtree(const Subtree&) = delete;
  ~Subtree();

  // Maps the 4 KiB page at `linaddr` (inside the range) to `gpa`. The
  // access kind overrides `flags`: kUserReadOnly clears writable and sets
  // user, kSupervisor clears user. AlreadyExistsError if mapped already.
  Status Map(uint64_t linaddr, uint64_t gpa, PageFlags flags);
  Status Unmap(uint64_t linaddr);

  uint64_t base() const { return base_; }
  uint64_t size() const { return TableCoverage(level_); }
  TableLevel level() const { return level_; }
  SubtreeAccess access() const { return access_; }
  uint64_t table_gpa() const { return table_; }
  // Address spaces currently linking this subtree.
  int link_count() const { return links_; }

 private:
  friend class AddressSpace;
  Subtree(FrameArena* arena, uint64_t base, TableLevel level, SubtreeAccess access, uint64_t table);
  FrameArena* arena_;
  uint64_t base_;
  TableLevel level_;
  SubtreeAccess access_;
  uint64_t table_;
  std::vector<uint64_t> owned_;  // every frame allocated, table_ included
  int links_ = 0;
};

class AddressSpace {
 public:
  // Frames come from `pool` (FrameArena above).
  static StatusOr<AddressSpace> Create(FrameArena& arena, FramePool pool = kSharedPool);
  AddressSpace(AddressSpace&& other) noexcept;
  AddressSpace& operator=(AddressSpace&&) = delete;
  AddressSpace(const AddressSpace&) = delete;
  ~AddressSpace();

  // The value for CR3: the PML4's guest-physical address.
  uint64_t cr3() const { return root_; }

  // Maps one 4 KiB page. InvalidArgumentError for unaligned or non-canonical
  // addresses; AlreadyExistsError if the page is mapped or lies in a linked
  // subtree's range.
  Status Map(uint64_t linaddr, uint64_t gpa, PageFlags flags);
  // NotFoundError if not mapped; FailedPreconditionError inside a linked
  // subtree (unmap there, or Unlink).
  Status Unmap(uint64_t linaddr);

  // Points the entry that covers subtree.base() at the subtree: one entry
  // write, plus the intermediate tables (created once) above it.
  // AlreadyExistsError if anything is mapped in that range.
  Status Link(Subtree& subtree);
  // One entry write. NotFoundError if `subtree` is not linked here.
  Status Unlink(Subtree& subtree);

  // Software walk; NotFoundError if `linaddr` is not mapped.
  StatusOr<WalkResult> Walk(uint64_t linaddr) const;

 private:
  AddressSpace(FrameArena* arena, FramePool pool, uint64_t root);
  FrameArena* arena_;
  FramePool pool_;
  uint64_t root_;
  std::vector<uint64_t> owned_;   // frames this space allocated (not subtrees')
  std::vector<Subtree*> linked_;  // subtrees linked here (their link counts drop with us)
};

// True iff bits 63:47 of `linaddr` are all equal.
bool IsCanonical(uint64_t linaddr);

}  // namespace confide::monitor
