#include "machine/counters.h"

#include <fmt/format.h>

namespace confide::machine {

uint64_t EnclaveStats::total_cycles() const {
  uint64_t t = 0;
  for (uint64_t c : cycles) t += c;
  return t;
}

uint64_t CounterSnapshot::total_cycles() const {
  uint64_t t = 0;
  for (uint64_t c : cycles) t += c;
  return t;
}

std::string CounterSnapshot::Breakdown(double frequency_hz) const {
  std::string out;
  for (const auto& row : AllInstructions()) {
    size_t i = static_cast<size_t>(row.id);
    if (count[i] == 0) continue;
    out += fmt::format("  {:<12} {:>9} x {:>7} = {:>13} cycles  {:>10.3f} ms\n", row.name,
                       count[i], count[i] ? cycles[i] / count[i] : 0, cycles[i],
                       1e3 * static_cast<double>(cycles[i]) / frequency_hz);
  }
  out += fmt::format("  {:<12} {:>35} cycles  {:>10.3f} ms\n", "total", total_cycles(),
                     1e3 * static_cast<double>(total_cycles()) / frequency_hz);
  return out;
}

void MachineCounters::Add(uint64_t PageEvents::*field, uint64_t n) {
  std::atomic<uint64_t>* target = nullptr;
  if (field == &PageEvents::pages_added) target = &pages_added_;
  else if (field == &PageEvents::pages_augmented) target = &pages_augmented_;
  else if (field == &PageEvents::chunks_measured) target = &chunks_measured_;
  else if (field == &PageEvents::pages_evicted) target = &pages_evicted_;
  else if (field == &PageEvents::pages_reloaded) target = &pages_reloaded_;
  else if (field == &PageEvents::pages_removed) target = &pages_removed_;
  else target = &cow_copies_;
  target->fetch_add(n, std::memory_order_relaxed);
}

CounterSnapshot MachineCounters::Snapshot() const {
  CounterSnapshot s;
  for (size_t i = 0; i < kInstructionCount; ++i) {
    s.count[i] = count_[i].load(std::memory_order_relaxed);
    s.cycles[i] = cycles_[i].load(std::memory_order_relaxed);
  }
  s.events.pages_added = pages_added_.load(std::memory_order_relaxed);
  s.events.pages_augmented = pages_augmented_.load(std::memory_order_relaxed);
  s.events.chunks_measured = chunks_measured_.load(std::memory_order_relaxed);
  s.events.pages_evicted = pages_evicted_.load(std::memory_order_relaxed);
  s.events.pages_reloaded = pages_reloaded_.load(std::memory_order_relaxed);
  s.events.pages_removed = pages_removed_.load(std::memory_order_relaxed);
  s.events.cow_copies = cow_copies_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace confide::machine
