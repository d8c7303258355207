// instruction.h — the table of modeled instructions: leaf, SDM leaf number,
// cost key in the cost profile, and where the SDM (or PIE) defines it.
//
// The table is data: the cost model, the counters and the CLI all iterate it,
// so adding an instruction is one row here plus its handler.
//
// Thread-safety: immutable data.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace confide::machine {

enum class Instruction : uint8_t {
  kEcreate,
  kEadd,
  kEextend,
  kEinit,
  kEremove,  // creation.cc
  kEaug,
  kEaccept,
  kEacceptcopy,
  kEmodpr,
  kEmodpe,
  kEmodt,  // dynamic.cc
  kEpa,
  kEblock,
  kEtrack,
  kEwb,
  kEldu,
  kEldb,  // paging.cc
  kEreport,
  kEgetkey,  // attestation.cc
  kEenter,
  kEexit,
  kAex,
  kEresume,  // entry.cc
  kEmap,
  kEunmap,  // pie.cc
};
inline constexpr size_t kInstructionCount = static_cast<size_t>(Instruction::kEunmap) + 1;

// Which opcode carries the leaf: ENCLS runs at CPL0 outside enclaves (the OS),
// ENCLU at CPL3 (EENTER/ERESUME from outside, the rest inside an enclave).
// AEX is an event, not an instruction.
enum class Leaf : uint8_t { kEncls, kEnclu, kEvent };

struct InstructionInfo {
  Instruction id;
  std::string_view name;  // "EADD"
  Leaf leaf;
  uint8_t eax;                // leaf number in EAX (SDM Vol. 3D Table 40-1/40-2)
  std::string_view cost_key;  // key in the cost profile's "cycles"
  std::string_view defined_in;
};

const InstructionInfo& Info(Instruction i);
const std::array<InstructionInfo, kInstructionCount>& AllInstructions();
std::optional<Instruction> InstructionFromCostKey(std::string_view key);

}  // namespace confide::machine
