#include "monitor/page_tables.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "machine/secs.h"

namespace confide::monitor {
namespace {

// An ignored ("available") bit the CPU never interprets (SDM Vol. 3A
// Table 4-15..4-20, bits 11:9): marks an entry that links a shared subtree,
// so an address space never descends into (or frees) tables it does not own.
constexpr uint64_t kLinkBit = 1ull << 9;
constexpr uint64_t kFrame = 4096;

unsigned Index(uint64_t linaddr, TableLevel level) {
  return static_cast<unsigned>((linaddr >> (12 + 9 * (static_cast<int>(level) - 1))) & 511);
}

TableLevel Below(TableLevel level) { return static_cast<TableLevel>(static_cast<int>(level) - 1); }

uint64_t IntermediateEntry(uint64_t table_gpa, bool user) {
  return (table_gpa & pte::kAddressMask) | pte::kPresent | pte::kWritable | pte::kAccessed |
         (user ? pte::kUser : 0);
}

uint64_t LeafEntry(uint64_t gpa, PageFlags flags) {
  uint64_t e = (gpa & pte::kAddressMask) | pte::kPresent | pte::kAccessed;
  if (flags.writable) e |= pte::kWritable | pte::kDirty;
  if (flags.user) e |= pte::kUser;
  if (!flags.executable) e |= pte::kNoExecute;
  return e;
}

Status CheckPage(uint64_t linaddr, uint64_t gpa) {
  if (linaddr % kFrame != 0 || gpa % kFrame != 0) {
    return InvalidArgumentError(
        fmt::format("page mapping {:#x} -> {:#x} is not 4 KiB aligned", linaddr, gpa));
  }
  if (!IsCanonical(linaddr)) {
    return InvalidArgumentError(fmt::format("linear address {:#x} is not canonical", linaddr));
  }
  if ((gpa & ~pte::kAddressMask) != 0) {
    return InvalidArgumentError(fmt::format("guest-physical {:#x} beyond 52 bits", gpa));
  }
  return OkStatus();
}

// Walks from `table` (of `level`) down to the PT covering `linaddr`. With
// `owned` non-null, missing tables are allocated (recorded in *owned) and
// linked with US = `user`; otherwise a missing table is NotFoundError. A link
// entry on the way is AlreadyExistsError when `stop_at_links`.
StatusOr<uint64_t> DescendToPt(FrameArena& arena, uint64_t table, TableLevel level,
                               uint64_t linaddr, std::vector<uint64_t>* owned, bool user,
                               bool stop_at_links, FramePool pool = kSharedPool) {
  while (level != TableLevel::kPt) {
    unsigned i = Index(linaddr, level);
    uint64_t e = arena.ReadEntry(table, i);
    if (e & pte::kPresent) {
      if ((e & kLinkBit) && stop_at_links) {
        return AlreadyExistsError(fmt::format("{:#x} lies in a linked shared subtree", linaddr));
      }
      if (e & pte::kLargePage) return InternalError("large page in monitor page tables");
      table = e & pte::kAddressMask;
    } else {
      if (owned == nullptr) return NotFoundError(fmt::format("{:#x} is not mapped", linaddr));
      CONFIDE_ASSIGN_OR_RETURN(uint64_t fresh, arena.Allocate(pool));
      owned->push_back(fresh);
      arena.WriteEntry(table, i, IntermediateEntry(fresh, user));
      table = fresh;
    }
    level = Below(level);
  }
  return table;
}

Status MapLeaf(FrameArena& arena, uint64_t table, TableLevel level, uint64_t linaddr, uint64_t gpa,
               PageFlags flags, std::vector<uint64_t>* owned, bool stop_at_links,
               FramePool pool = kSharedPool) {
  CONFIDE_ASSIGN_OR_RETURN(uint64_t pt, DescendToPt(arena, table, level, linaddr, owned,
                                                    /*user=*/true, stop_at_links, pool));
  unsigned i = Index(linaddr, TableLevel::kPt);
  if (arena.ReadEntry(pt, i) & pte::kPresent) {
    return AlreadyExistsError(fmt::format("{:#x} is mapped already", linaddr));
  }
  arena.WriteEntry(pt, i, LeafEntry(gpa, flags));
  return OkStatus();
}

Status UnmapLeaf(FrameArena& arena, uint64_t table, TableLevel level, uint64_t linaddr) {
  if (linaddr % kFrame != 0 || !IsCanonical(linaddr)) {
    return InvalidArgumentError(fmt::format("bad page address {:#x}", linaddr));
  }
  auto pt = DescendToPt(arena, table, level, linaddr, nullptr, true, /*stop_at_links=*/true);
  if (!pt.ok()) {
    if (pt.error().code == ErrorCode::kAlreadyExists) {
      return FailedPreconditionError(
          fmt::format("{:#x} lies in a linked subtree: unmap it there", linaddr));
    }
    return tl::unexpected(pt.error());
  }
  unsigned i = Index(linaddr, TableLevel::kPt);
  if (!(arena.ReadEntry(*pt, i) & pte::kPresent)) {
    return NotFoundError(fmt::format("{:#x} is not mapped", linaddr));
  }
  arena.WriteEntry(*pt, i, 0);
  return OkStatus();
}

}  // namespace

bool IsCanonical(uint64_t linaddr) {
  uint64_t top = linaddr >> 47;
  return top == 0 || top == 0x1ffff;
}

uint64_t TableCoverage(TableLevel level) {
  return uint64_t{1} << (12 + 9 * static_cast<int>(level));
}

PageFlags LeafFlagsFromEpcm(uint8_t epcm_perms, bool plugin_page) {
  PageFlags f;
  f.user = true;
  f.writable = (epcm_perms & machine::secinfo::kW) != 0 && !plugin_page;
  f.executable = (epcm_perms & machine::secinfo::kX) != 0;
  return f;
}

// ---- FrameArena ---------------------------------------------------------------

StatusOr<std::unique_ptr<FrameArena>> FrameArena::Create(MutableByteSpan memory,
                                                         uint64_t gpa_base) {
  // SAFETY: the cast only inspects the pointer's alignment.
  auto address = reinterpret_cast<uintptr_t>(memory.data());
  if (memory.empty() || memory.size() % kFrame != 0 || address % kFrame != 0) {
    return InvalidArgumentError("page-table arena must be whole, aligned 4 KiB frames");
  }
  if (gpa_base % kFrame != 0) return InvalidArgumentError("arena base not 4 KiB aligned");
  return std::unique_ptr<FrameArena>(new FrameArena(memory, gpa_base));
}

FrameArena::FrameArena(MutableByteSpan memory, uint64_t gpa_base)
    : memory_(memory), gpa_base_(gpa_base) {}

StatusOr<uint64_t> FrameArena::Allocate(FramePool pool) {
  uint64_t frame;
  Pool& p = pools_[pool];
  if (!p.clean.empty()) {
    frame = p.clean.back();
    p.clean.pop_back();
  } else if (next_fresh_ < frame_count()) {
    frame = next_fresh_++;
  } else {
    return ResourceExhaustedError(fmt::format("page-table arena full ({} frames)", frame_count()));
  }
  std::memset(memory_.data() + frame * kFrame, 0, kFrame);
  ++in_use_;
  return gpa_base_ + frame * kFrame;
}

void FrameArena::Free(uint64_t gpa, FramePool pool) {
  pools_[pool].quarantined.push_back((gpa - gpa_base_) / kFrame);
  --in_use_;
}

void FrameArena::Recycle(FramePool pool) {
  Pool& p = pools_[pool];
  p.clean.insert(p.clean.end(), p.quarantined.begin(), p.quarantined.end());
  p.quarantined.clear();
}

size_t FrameArena::quarantined(FramePool pool) const {
  auto it = pools_.find(pool);
  return it == pools_.end() ? 0 : it->second.quarantined.size();
}

bool FrameArena::Contains(uint64_t gpa) const {
  return gpa >= gpa_base_ && gpa - gpa_base_ < memory_.size();
}

uint64_t FrameArena::ReadEntry(uint64_t table_gpa, unsigned index) const {
  uint64_t v;
  std::memcpy(&v, memory_.data() + (table_gpa - gpa_base_) + index * 8, 8);
  return v;
}

void FrameArena::WriteEntry(uint64_t table_gpa, unsigned index, uint64_t value) {
  std::memcpy(memory_.data() + (table_gpa - gpa_base_) + index * 8, &value, 8);
  ++entry_writes_;
}

// ---- Subtree ------------------------------------------------------------------

StatusOr<Subtree> Subtree::Create(FrameArena& arena, uint64_t base, TableLevel level,
                                  SubtreeAccess access) {
  if (level == TableLevel::kPml4) return InvalidArgumentError("a subtree is below the PML4");
  if (base % TableCoverage(level) != 0 || !IsCanonical(base)) {
    return InvalidArgumentError(fmt::format(
        "subtree base {:#x} not canonical or not aligned to {:#x}", base, TableCoverage(level)));
  }
  CONFIDE_ASSIGN_OR_RETURN(uint64_t table, arena.Allocate());
  return Subtree(&arena, base, level, access, table);
}

Subtree::Subtree(FrameArena* arena, uint64_t base, TableLevel level, SubtreeAccess access,
                 uint64_t table)
    : arena_(arena), base_(base), level_(level), access_(access), table_(table), owned_{table} {}

Subtree::Subtree(Subtree&& other) noexcept
    : arena_(other.arena_),
      base_(other.base_),
      level_(other.level_),
      access_(other.access_),
      table_(other.table_),
      owned_(std::move(other.owned_)),
      links_(other.links_) {
  other.arena_ = nullptr;
  other.owned_.clear();
}

Subtree::~Subtree() {
  if (arena_ == nullptr) return;
  for (uint64_t f : owned_) arena_->Free(f);
}

Status Subtree::Map(uint64_t linaddr, uint64_t gpa, PageFlags flags) {
  CONFIDE_RETURN_IF_ERROR(CheckPage(linaddr, gpa));
  if (linaddr - base_ >= size()) {
    return OutOfRangeError(
        fmt::format("{:#x} outside subtree [{:#x}, +{:#x})", linaddr, base_, size()));
  }
  switch (access_) {
    case SubtreeAccess::kUserReadOnly:
      flags.user = true;
      flags.writable = false;
      break;
    case SubtreeAccess::kUserData:
      flags.user = true;
      flags.writable = true;
      flags.executable = false;
      break;
    case SubtreeAccess::kSupervisor:
      flags.user = false;
      break;
  }
  return MapLeaf(*arena_, table_, level_, linaddr, gpa, flags, &owned_, /*stop_at_links=*/true);
}

Status Subtree::Unmap(uint64_t linaddr) {
  if (linaddr - base_ >= size()) return OutOfRangeError("outside the subtree");
  return UnmapLeaf(*arena_, table_, level_, linaddr);
}

// ---- AddressSpace ---------------------------------------------------------------

StatusOr<AddressSpace> AddressSpace::Create(FrameArena& arena, FramePool pool) {
  CONFIDE_ASSIGN_OR_RETURN(uint64_t root, arena.Allocate(pool));
  return AddressSpace(&arena, pool, root);
}

AddressSpace::AddressSpace(FrameArena* arena, FramePool pool, uint64_t root)
    : arena_(arena), pool_(pool), root_(root), owned_{root} {}

AddressSpace::AddressSpace(AddressSpace&& other) noexcept
    : arena_(other.arena_),
      pool_(other.pool_),
      root_(other.root_),
      owned_(std::move(other.owned_)),
      linked_(std::move(other.linked_)) {
  other.arena_ = nullptr;
  other.owned_.clear();
  other.linked_.clear();
}

AddressSpace::~AddressSpace() {
  if (arena_ == nullptr) return;
  for (Subtree* s : linked_) --s->links_;
  for (uint64_t f : owned_) arena_->Free(f, pool_);
}

Status AddressSpace::Map(uint64_t linaddr, uint64_t gpa, PageFlags flags) {
  CONFIDE_RETURN_IF_ERROR(CheckPage(linaddr, gpa));
  return MapLeaf(*arena_, root_, TableLevel::kPml4, linaddr, gpa, flags, &owned_,
                 /*stop_at_links=*/true, pool_);
}

Status AddressSpace::Unmap(uint64_t linaddr) {
  return UnmapLeaf(*arena_, root_, TableLevel::kPml4, linaddr);
}

Status AddressSpace::Link(Subtree& subtree) {
  if (subtree.arena_ != arena_) return InvalidArgumentError("subtree lives in another arena");
  // Descend to the table one level above the subtree, creating what is missing.
  TableLevel parent_level = static_cast<TableLevel>(static_cast<int>(subtree.level()) + 1);
  uint64_t table = root_;
  for (TableLevel level = TableLevel::kPml4; level != parent_level; level = Below(level)) {
    unsigned i = Index(subtree.base(), level);
    uint64_t e = arena_->ReadEntry(table, i);
    if (e & pte::kPresent) {
      if (e & kLinkBit) {
        return AlreadyExistsError(
            fmt::format("range of {:#x} overlaps a linked subtree", subtree.base()));
      }
      table = e & pte::kAddressMask;
    } else {
      CONFIDE_ASSIGN_OR_RETURN(uint64_t fresh, arena_->Allocate(pool_));
      owned_.push_back(fresh);
      arena_->WriteEntry(table, i, IntermediateEntry(fresh, /*user=*/true));
      table = fresh;
    }
  }
  unsigned i = Index(subtree.base(), parent_level);
  if (arena_->ReadEntry(table, i) & pte::kPresent) {
    return AlreadyExistsError(
        fmt::format("something is mapped in [{:#x}, +{:#x})", subtree.base(), subtree.size()));
  }
  bool user = subtree.access() != SubtreeAccess::kSupervisor;
  arena_->WriteEntry(table, i, IntermediateEntry(subtree.table_gpa(), user) | kLinkBit);
  ++subtree.links_;
  linked_.push_back(&subtree);
  return OkStatus();
}

Status AddressSpace::Unlink(Subtree& subtree) {
  TableLevel parent_level = static_cast<TableLevel>(static_cast<int>(subtree.level()) + 1);
  uint64_t table = root_;
  for (TableLevel level = TableLevel::kPml4; level != parent_level; level = Below(level)) {
    uint64_t e = arena_->ReadEntry(table, Index(subtree.base(), level));
    if (!(e & pte::kPresent) || (e & kLinkBit)) return NotFoundError("subtree not linked here");
    table = e & pte::kAddressMask;
  }
  unsigned i = Index(subtree.base(), parent_level);
  uint64_t e = arena_->ReadEntry(table, i);
  if (!(e & pte::kPresent) || !(e & kLinkBit) || (e & pte::kAddressMask) != subtree.table_gpa()) {
    return NotFoundError("subtree not linked here");
  }
  arena_->WriteEntry(table, i, 0);
  --subtree.links_;
  linked_.erase(std::find(linked_.begin(), linked_.end(), &subtree));
  return OkStatus();
}

StatusOr<WalkResult> AddressSpace::Walk(uint64_t linaddr) const {
  if (!IsCanonical(linaddr)) return InvalidArgumentError("non-canonical address");
  WalkResult r{.gpa = 0, .writable = true, .user = true, .executable = true};
  uint64_t table = root_;
  for (int level = 4; level >= 1; --level) {
    uint64_t e = arena_->ReadEntry(table, Index(linaddr, static_cast<TableLevel>(level)));
    if (!(e & pte::kPresent)) {
      return NotFoundError(fmt::format("{:#x} not present at level {}", linaddr, level));
    }
    if (e & pte::kLargePage) return InternalError("large page in monitor page tables");
    r.writable = r.writable && (e & pte::kWritable);
    r.user = r.user && (e & pte::kUser);
    r.executable = r.executable && !(e & pte::kNoExecute);
    table = e & pte::kAddressMask;
    if (level > 1 && !arena_->Contains(table)) {
      return InternalError(fmt::format("table {:#x} outside the arena", table));
    }
  }
  r.gpa = table | (linaddr & (kFrame - 1));
  return r;
}

}  // namespace confide::monitor
