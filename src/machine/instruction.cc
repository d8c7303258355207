#include "machine/instruction.h"

namespace confide::machine {
namespace {

using enum Instruction;
using enum Leaf;

// EAX numbers: SDM Vol. 3D §40.1 (ENCLS) and §40.4 (ENCLU). PIE gives EMAP and
// EUNMAP no numbers; confide puts them at ENCLU 0x20 and 0x21, clear of the SDM.
constexpr std::array<InstructionInfo, kInstructionCount> kTable = {{
    {kEcreate, "ECREATE", kEncls, 0x00, "ecreate", "SDM Vol. 3D 40.3 ECREATE"},
    {kEadd, "EADD", kEncls, 0x01, "eadd", "SDM Vol. 3D 40.3 EADD; PIE IV-D (PT_SREG)"},
    {kEextend, "EEXTEND", kEncls, 0x06, "eextend", "SDM Vol. 3D 40.3 EEXTEND"},
    {kEinit, "EINIT", kEncls, 0x02, "einit", "SDM Vol. 3D 40.3 EINIT"},
    {kEremove, "EREMOVE", kEncls, 0x03, "eremove", "SDM Vol. 3D 40.3 EREMOVE; PIE IV-E"},
    {kEaug, "EAUG", kEncls, 0x0D, "eaug", "SDM Vol. 3D 40.3 EAUG"},
    {kEaccept, "EACCEPT", kEnclu, 0x05, "eaccept", "SDM Vol. 3D 40.4 EACCEPT"},
    {kEacceptcopy, "EACCEPTCOPY", kEnclu, 0x07, "eacceptcopy",
     "SDM Vol. 3D 40.4 EACCEPTCOPY; PIE IV-D (copy-on-write)"},
    {kEmodpr, "EMODPR", kEncls, 0x0E, "emodpr", "SDM Vol. 3D 40.3 EMODPR"},
    {kEmodpe, "EMODPE", kEnclu, 0x06, "emodpe", "SDM Vol. 3D 40.4 EMODPE"},
    {kEmodt, "EMODT", kEncls, 0x0F, "emodt", "SDM Vol. 3D 40.3 EMODT"},
    {kEpa, "EPA", kEncls, 0x0A, "epa", "SDM Vol. 3D 40.3 EPA"},
    {kEblock, "EBLOCK", kEncls, 0x09, "eblock", "SDM Vol. 3D 40.3 EBLOCK"},
    {kEtrack, "ETRACK", kEncls, 0x0C, "etrack", "SDM Vol. 3D 40.3 ETRACK"},
    {kEwb, "EWB", kEncls, 0x0B, "ewb", "SDM Vol. 3D 40.3 EWB"},
    {kEldu, "ELDU", kEncls, 0x08, "eldu", "SDM Vol. 3D 40.3 ELDB/ELDU"},
    {kEldb, "ELDB", kEncls, 0x07, "eldb", "SDM Vol. 3D 40.3 ELDB/ELDU"},
    {kEreport, "EREPORT", kEnclu, 0x00, "ereport", "SDM Vol. 3D 40.4 EREPORT"},
    {kEgetkey, "EGETKEY", kEnclu, 0x01, "egetkey", "SDM Vol. 3D 40.4 EGETKEY"},
    {kEenter, "EENTER", kEnclu, 0x02, "eenter", "SDM Vol. 3D 40.4 EENTER"},
    {kEexit, "EEXIT", kEnclu, 0x04, "eexit", "SDM Vol. 3D 40.4 EEXIT"},
    {kAex, "AEX", kEvent, 0xFF, "aex", "SDM Vol. 3D 39.4 Asynchronous Enclave Exit"},
    {kEresume, "ERESUME", kEnclu, 0x03, "eresume", "SDM Vol. 3D 40.4 ERESUME"},
    {kEmap, "EMAP", kEnclu, 0x20, "emap", "PIE (ISCA'21) IV-C, Table IV"},
    {kEunmap, "EUNMAP", kEnclu, 0x21, "eunmap", "PIE (ISCA'21) IV-C, Table IV"},
}};

constexpr bool TableIsIndexedById() {
  for (size_t i = 0; i < kTable.size(); ++i)
    if (static_cast<size_t>(kTable[i].id) != i) return false;
  return true;
}
static_assert(TableIsIndexedById(), "kTable rows must be in Instruction order");

}  // namespace

const InstructionInfo& Info(Instruction i) { return kTable[static_cast<size_t>(i)]; }
const std::array<InstructionInfo, kInstructionCount>& AllInstructions() { return kTable; }

std::optional<Instruction> InstructionFromCostKey(std::string_view key) {
  for (const auto& row : kTable)
    if (row.cost_key == key) return row.id;
  return std::nullopt;
}

}  // namespace confide::machine
