// counters.h — what the machine counts: instructions and their cycles by
// kind, and page events, per enclave and per machine.
//
// Thread-safety: EnclaveStats is guarded by its enclave's lock (callers get
// copies); CoreCounters are written by their core's thread only and may be
// read by any thread while instructions run.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <iterator>
#include <string>

#include "machine/instruction.h"

namespace confide::machine {

// Page events. "measured" counts 256-byte chunks that went through EEXTEND.
struct PageEvents {
  uint64_t pages_added = 0;      // EADD
  uint64_t pages_augmented = 0;  // EAUG
  uint64_t chunks_measured = 0;  // EEXTEND
  uint64_t pages_evicted = 0;    // EWB
  uint64_t pages_reloaded = 0;   // ELDU/ELDB
  uint64_t pages_removed = 0;    // EREMOVE (non-SECS)
  uint64_t cow_copies = 0;       // PIE copy-on-write (EACCEPTCOPY from a PT_SREG page)
};

// Every PageEvents field, for code that treats them alike.
inline constexpr uint64_t PageEvents::*kPageEventFields[] = {
    &PageEvents::pages_added,   &PageEvents::pages_augmented, &PageEvents::chunks_measured,
    &PageEvents::pages_evicted, &PageEvents::pages_reloaded,  &PageEvents::pages_removed,
    &PageEvents::cow_copies,
};
inline constexpr size_t kPageEventCount = std::size(kPageEventFields);

struct EnclaveStats {
  std::array<uint64_t, kInstructionCount> count{};
  std::array<uint64_t, kInstructionCount> cycles{};
  PageEvents events;
  uint64_t total_cycles() const;
};

// A consistent-enough copy of the machine-wide counters.
struct CounterSnapshot {
  std::array<uint64_t, kInstructionCount> count{};
  std::array<uint64_t, kInstructionCount> cycles{};
  PageEvents events;
  uint64_t total_cycles() const;
  // What happened since `earlier` (a snapshot taken before this one).
  CounterSnapshot Since(const CounterSnapshot& earlier) const;
  // "EADD 12 x 12500 = 150000 cycles\n..." for every instruction that ran.
  std::string Breakdown(double frequency_hz) const;
};

// One logical core's counters. Only the thread driving the core writes them,
// with a relaxed load and store (no locked read-modify-write: counting must
// cost next to nothing beside the instruction); any thread may read them.
class CoreCounters {
 public:
  void CountInstruction(Instruction i, uint64_t cycles) {
    Bump(count_[static_cast<size_t>(i)], 1);
    Bump(cycles_[static_cast<size_t>(i)], cycles);
  }
  void CountEvent(size_t event_index) { Bump(events_[event_index], 1); }
  // Adds this core's counters into `sum`.
  void AddTo(CounterSnapshot* sum) const;

 private:
  static void Bump(std::atomic<uint64_t>& a, uint64_t n) {
    a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::array<std::atomic<uint64_t>, kInstructionCount> count_{};
  std::array<std::atomic<uint64_t>, kInstructionCount> cycles_{};
  std::array<std::atomic<uint64_t>, kPageEventCount> events_{};  // by kPageEventFields index
};

}  // namespace confide::machine
