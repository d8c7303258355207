// cost_profile.h — cycles per instruction, core frequency and EPC size: the
// data the machine's virtual clocks run on.
//
// Profiles are JSON files under profiles/ (see profiles/pie-xeon-e3.json),
// compiled into the binary so that a run needs no files; every number names
// its source or says it is an assumption. Two are built in:
//   "pie-xeon-e3"  PIE §V evaluation server (Xeon E3-1270, 3.8 GHz)
//   "j5005"        PIE §III-A testbed (Pentium Silver J5005, 1.5 GHz)
//
// Thread-safety: a CostProfile is an immutable value once built.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "machine/instruction.h"

namespace confide::machine {

struct CostProfile {
  std::string name;
  std::string description;
  uint64_t frequency_hz = 0;
  uint64_t epc_bytes = 0;
  uint32_t cores = 1;
  std::array<uint64_t, kInstructionCount> cycles{};  // indexed by Instruction

  uint64_t Cycles(Instruction i) const { return cycles[static_cast<size_t>(i)]; }
  double Seconds(uint64_t cycle_count) const {
    return static_cast<double>(cycle_count) / static_cast<double>(frequency_hz);
  }

  // Parses a profile. InvalidArgumentError names the key that is missing,
  // unknown or out of range; every instruction must have a cycle count.
  static StatusOr<CostProfile> FromJson(std::string_view json);
  // A built-in profile by name; NotFoundError lists the names.
  static StatusOr<CostProfile> Builtin(std::string_view name);
  static std::vector<std::string> BuiltinNames();
  // The default: "pie-xeon-e3".
  static CostProfile Default();
};

}  // namespace confide::machine
