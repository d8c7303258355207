// counters.h — what the machine counts: instructions and their cycles by
// kind, and page events, per enclave and per machine.
//
// Thread-safety: EnclaveStats is guarded by its enclave's lock (callers get
// copies); MachineCounters is lock-free (relaxed atomics) and Snapshot() may
// run concurrently with instructions.
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

class MachineCounters {
 public:
  void CountInstruction(Instruction i, uint64_t cycles) {
    count_[static_cast<size_t>(i)].fetch_add(1, std::memory_order_relaxed);
    cycles_[static_cast<size_t>(i)].fetch_add(cycles, std::memory_order_relaxed);
  }
  void Add(uint64_t PageEvents::*field, uint64_t n = 1);
  CounterSnapshot Snapshot() const;

 private:
  std::array<std::atomic<uint64_t>, kInstructionCount> count_{};
  std::array<std::atomic<uint64_t>, kInstructionCount> cycles_{};
  std::array<std::atomic<uint64_t>, kPageEventCount> events_{};  // by kPageEventFields index
};

}  // namespace confide::machine
