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

CounterSnapshot CounterSnapshot::Since(const CounterSnapshot& earlier) const {
  CounterSnapshot d;
  for (size_t i = 0; i < kInstructionCount; ++i) {
    d.count[i] = count[i] - earlier.count[i];
    d.cycles[i] = cycles[i] - earlier.cycles[i];
  }
  for (auto field : kPageEventFields) d.events.*field = events.*field - earlier.events.*field;
  return d;
}

std::string CounterSnapshot::Breakdown(double frequency_hz) const {
  std::string out;
  for (const auto& row : AllInstructions()) {
    size_t i = static_cast<size_t>(row.id);
    if (count[i] == 0) continue;
    out += fmt::format("  {:<12} {:>9} x {:>7} = {:>13} cycles  {:>10.3f} ms\n", row.name, count[i],
                       count[i] ? cycles[i] / count[i] : 0, cycles[i],
                       1e3 * static_cast<double>(cycles[i]) / frequency_hz);
  }
  out += fmt::format("  {:<12} {:>35} cycles  {:>10.3f} ms\n", "total", total_cycles(),
                     1e3 * static_cast<double>(total_cycles()) / frequency_hz);
  return out;
}

void CoreCounters::AddTo(CounterSnapshot* sum) const {
  for (size_t i = 0; i < kInstructionCount; ++i) {
    sum->count[i] += count_[i].load(std::memory_order_relaxed);
    sum->cycles[i] += cycles_[i].load(std::memory_order_relaxed);
  }
  for (size_t i = 0; i < kPageEventCount; ++i)
    sum->events.*kPageEventFields[i] += events_[i].load(std::memory_order_relaxed);
}

}  // namespace confide::machine
