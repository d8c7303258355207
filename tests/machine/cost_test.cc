// The cost model: profile parsing and its errors, the built-in profiles,
// machine configuration, the instruction table, counters, and virtual-time
// serialization of instructions on one enclave.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "machine/builtin_profiles.h"
#include "test_util.h"

namespace confide::machine::testing {
namespace {

using I = Instruction;
using nlohmann::json;

json ValidProfile() {
  json j;
  j["name"] = "unit";
  j["description"] = "a test profile";
  j["frequency_hz"] = 2000000000;
  j["epc_bytes"] = 64 * 4096;
  j["cores"] = 2;
  json cycles = json::object();
  for (const auto& row : AllInstructions())
    cycles[std::string(row.cost_key)] = 100 + static_cast<int>(row.id);
  j["cycles"] = cycles;
  return j;
}

::testing::AssertionResult RejectedMentioning(const json& j, const std::string& needle) {
  auto p = CostProfile::FromJson(j.dump());
  if (p.ok()) return ::testing::AssertionFailure() << "accepted: " << j.dump();
  if (p.error().code != ErrorCode::kInvalidArgument)
    return ::testing::AssertionFailure() << "wrong code: " << p.error().ToString();
  if (p.error().message.find(needle) == std::string::npos)
    return ::testing::AssertionFailure()
           << "message lacks \"" << needle << "\": " << p.error().message;
  return ::testing::AssertionSuccess();
}

// ---- Parsing -----------------------------------------------------------------------------

TEST(CostProfileTest, ParsesAValidProfile) {
  auto p = CostProfile::FromJson(ValidProfile().dump());
  ASSERT_OK(p);
  EXPECT_EQ(p->name, "unit");
  EXPECT_EQ(p->description, "a test profile");
  EXPECT_EQ(p->frequency_hz, 2000000000u);
  EXPECT_EQ(p->epc_bytes, 64u * 4096);
  EXPECT_EQ(p->cores, 2u);
  for (const auto& row : AllInstructions())
    EXPECT_EQ(p->Cycles(row.id), 100u + static_cast<uint64_t>(row.id)) << row.name;
  EXPECT_DOUBLE_EQ(p->Seconds(4000000000), 2.0);
}

TEST(CostProfileTest, OptionalKeysDefault) {
  json j = ValidProfile();
  j.erase("description");
  j.erase("cores");
  auto p = CostProfile::FromJson(j.dump());
  ASSERT_OK(p);
  EXPECT_EQ(p->description, "");
  EXPECT_EQ(p->cores, 1u);
}

TEST(CostProfileTest, RejectsNonObjects) {
  for (const char* text : {"", "{", "[]", "42", "\"x\"", "null"}) {
    auto p = CostProfile::FromJson(text);
    ASSERT_FALSE(p.ok()) << text;
    EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(CostProfileTest, RejectsMissingTopLevelKeys) {
  for (const char* key : {"name", "frequency_hz", "epc_bytes", "cycles"}) {
    json j = ValidProfile();
    j.erase(key);
    EXPECT_TRUE(RejectedMentioning(j, key)) << key;
  }
}

TEST(CostProfileTest, RejectsWrongTypes) {
  struct Case {
    const char* key;
    json value;
  };
  for (const Case& c :
       {Case{"name", 3}, Case{"description", false}, Case{"frequency_hz", "fast"},
        Case{"frequency_hz", -1}, Case{"frequency_hz", 1.5}, Case{"epc_bytes", "big"},
        Case{"cores", -2}, Case{"cycles", json::array()}, Case{"cycles", 5}}) {
    json j = ValidProfile();
    j[c.key] = c.value;
    EXPECT_TRUE(RejectedMentioning(j, c.key)) << c.key << " = " << c.value.dump();
  }
}

TEST(CostProfileTest, RejectsOutOfRangeValues) {
  for (auto [key, value] : std::vector<std::pair<const char*, uint64_t>>{
           {"frequency_hz", 0}, {"epc_bytes", 4096}, {"epc_bytes", 0}, {"cores", 0}}) {
    json j = ValidProfile();
    j[key] = value;
    EXPECT_TRUE(RejectedMentioning(j, key)) << key << " = " << value;
  }
}

TEST(CostProfileTest, RejectsEpcBytesNotMultipleOfPage) {
  json j = ValidProfile();
  j["epc_bytes"] = 64 * 4096 + 100;
  EXPECT_TRUE(RejectedMentioning(j, "multiple of 4096"));
}

TEST(CostProfileTest, RejectsMissingInstruction) {
  for (const auto& row : AllInstructions()) {
    json j = ValidProfile();
    j["cycles"].erase(std::string(row.cost_key));
    EXPECT_TRUE(RejectedMentioning(j, std::string(row.cost_key) + " is missing")) << row.name;
  }
}

TEST(CostProfileTest, RejectsUnknownInstruction) {
  json j = ValidProfile();
  j["cycles"]["eteleport"] = 5;
  EXPECT_TRUE(RejectedMentioning(j, "eteleport"));
  json k = ValidProfile();
  k["cycles"]["EADD"] = 5;  // keys are lower case
  EXPECT_TRUE(RejectedMentioning(k, "EADD"));
}

TEST(CostProfileTest, RejectsNonIntegerCycles) {
  for (json value : {json("12"), json(1.5), json(-3), json(true), json(nullptr), json::array()}) {
    json j = ValidProfile();
    j["cycles"]["ewb"] = value;
    EXPECT_TRUE(RejectedMentioning(j, "ewb")) << value.dump();
  }
}

// ---- Built-ins -------------------------------------------------------------------------------

TEST(CostProfileTest, BuiltinsLoadAndCoverEveryInstruction) {
  const auto names = CostProfile::BuiltinNames();
  EXPECT_EQ(names, (std::vector<std::string>{"pie-xeon-e3", "j5005"}));
  for (const auto& text : BuiltinProfileTexts()) {
    SCOPED_TRACE(std::string(text.name));
    auto p = CostProfile::Builtin(text.name);
    ASSERT_OK(p);
    EXPECT_EQ(p->name, text.name);
    EXPECT_GT(p->frequency_hz, 0u);
    EXPECT_EQ(p->epc_bytes % 4096, 0u);
    EXPECT_GE(p->cores, 1u);
    // Every instruction has its own entry in the file's "cycles".
    const json j = json::parse(std::string(text.json));
    ASSERT_TRUE(j["cycles"].is_object());
    EXPECT_EQ(j["cycles"].size(), kInstructionCount);
    for (const auto& row : AllInstructions()) {
      const std::string key(row.cost_key);
      ASSERT_TRUE(j["cycles"].contains(key)) << key;
      EXPECT_EQ(p->Cycles(row.id), j["cycles"][key].get<uint64_t>()) << key;
    }
    // The instructions PIE Table II/IV measure are never free.
    for (I i : {I::kEcreate, I::kEadd, I::kEextend, I::kEinit, I::kEremove, I::kEaug, I::kEaccept,
                I::kEmodpr, I::kEmodpe, I::kEmodt, I::kEreport, I::kEgetkey, I::kEenter, I::kEexit,
                I::kEmap, I::kEunmap})
      EXPECT_GT(p->Cycles(i), 0u) << Info(i).name;
  }
}

TEST(CostProfileTest, DefaultIsPieXeonE3) {
  const CostProfile d = CostProfile::Default();
  EXPECT_EQ(d.name, "pie-xeon-e3");
  EXPECT_EQ(d.frequency_hz, 3800000000u);
  EXPECT_EQ(d.Cycles(I::kEmap), 9000u);
  EXPECT_EQ(d.Cycles(I::kEadd), 12500u);
}

TEST(CostProfileTest, UnknownBuiltinIsNotFoundAndListsNames) {
  auto p = CostProfile::Builtin("pentium-4");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kNotFound);
  EXPECT_NE(p.error().message.find("pie-xeon-e3"), std::string::npos);
  EXPECT_NE(p.error().message.find("j5005"), std::string::npos);
}

// ---- Instruction table ---------------------------------------------------------------------

TEST(InstructionTableTest, CostKeysRoundTrip) {
  std::set<std::string_view> keys, names;
  for (const auto& row : AllInstructions()) {
    EXPECT_EQ(Info(row.id).name, row.name);
    EXPECT_EQ(InstructionFromCostKey(row.cost_key), row.id);
    keys.insert(row.cost_key);
    names.insert(row.name);
  }
  EXPECT_EQ(keys.size(), kInstructionCount);
  EXPECT_EQ(names.size(), kInstructionCount);
  EXPECT_EQ(InstructionFromCostKey("nope"), std::nullopt);
  EXPECT_EQ(InstructionFromCostKey(""), std::nullopt);
}

// ---- Machine configuration -----------------------------------------------------------------

TEST(MachineConfigTest, DefaultsComeFromTheProfile) {
  MachineConfig c;
  c.profile = TestProfile();
  c.profile.epc_bytes = 40 * kPageSize;
  c.profile.cores = 3;
  auto m = Machine::Create(c);
  ASSERT_OK(m);
  EXPECT_EQ((*m)->epc_pages(), 40u);
  EXPECT_EQ((*m)->FreePageCount(), 40u);
  EXPECT_EQ((*m)->core_count(), 3u);
  EXPECT_EQ((*m)->profile().name, "test");
}

TEST(MachineConfigTest, RejectsBadConfigs) {
  MachineConfig c;
  c.profile = TestProfile();
  c.epc_pages = 16;
  c.cores = 1025;
  auto m = Machine::Create(c);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, ErrorCode::kInvalidArgument);
  c.cores = 0;
  c.profile.cores = 0;
  m = Machine::Create(c);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, ErrorCode::kInvalidArgument);
  c = MachineConfig{};
  c.epc_pages = 16;
  c.profile.frequency_hz = 0;
  m = Machine::Create(c);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, ErrorCode::kInvalidArgument);
  c = MachineConfig{};
  c.epc_pages = 1;
  m = Machine::Create(c);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, ErrorCode::kInvalidArgument);
}

TEST(MachineConfigTest, FindFreePageReportsExhaustion) {
  auto m = MakeMachine(2);
  ASSERT_OK(m->Epa(0, 0));
  auto p = m->FindFreePage();
  ASSERT_OK(p);
  EXPECT_EQ(*p, 1u);
  ASSERT_OK(m->Epa(0, 1));
  EXPECT_EQ(m->FindFreePage().error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(m->FreePageCount(), 0u);
}

TEST(MachineConfigTest, OutOfRangeInspectionIsHarmless) {
  auto m = MakeMachine(4);
  EXPECT_FALSE(m->Epcm(100).valid);
  EXPECT_EQ(m->CoreCycles(100), 0u);
  m->SetCoreCycles(100, 5);  // ignored
  EXPECT_EQ(m->CurrentEnclave(100), std::nullopt);
  EXPECT_PF(m->SecsOf(100));
  EXPECT_PF(m->StatsOf(100));
}

// ---- Counters and virtual time ---------------------------------------------------------------

TEST_F(MachineTest, CountersTotalAndBreakdown) {
  Built b = BuildHost(1);  // ECREATE, 2 EADD, 32 EEXTEND, EINIT
  const CounterSnapshot c = m().Counters();
  EXPECT_EQ(c.count[Idx(I::kEcreate)], 1u);
  EXPECT_EQ(c.count[Idx(I::kEadd)], 2u);
  EXPECT_EQ(c.count[Idx(I::kEextend)], 32u);
  EXPECT_EQ(c.count[Idx(I::kEinit)], 1u);
  const uint64_t total =
      Cost(I::kEcreate) + 2 * Cost(I::kEadd) + 32 * Cost(I::kEextend) + Cost(I::kEinit);
  EXPECT_EQ(c.total_cycles(), total);
  EXPECT_EQ(m().StatsOf(b.secs)->total_cycles(), total);
  EXPECT_EQ(m().CoreCycles(0), total);
  const std::string text = c.Breakdown(static_cast<double>(m().profile().frequency_hz));
  EXPECT_NE(text.find("EEXTEND"), std::string::npos);
  EXPECT_NE(text.find("total"), std::string::npos);
  EXPECT_EQ(text.find("EWB"), std::string::npos);  // did not run
}

class VirtualTimeTest : public MachineTest {};

TEST_F(VirtualTimeTest, TwoCoresOnOneEnclaveSerialize) {
  Built b = Build({.init = false});
  SyncClocks();
  const uint64_t t0 = m().CoreCycles(0);
  const uint64_t eadd = Cost(I::kEadd);
  const SecInfo rw = SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kW);
  ASSERT_OK(m().Eadd(0, b.secs, b.addr(10), rw, PatternPage(5, 0), Free()));
  EXPECT_EQ(m().CoreCycles(0), t0 + eadd);
  // Core 1's clock is at t0, but the enclave is busy until t0 + eadd.
  ASSERT_EQ(m().CoreCycles(1), t0);
  ASSERT_OK(m().Eadd(1, b.secs, b.addr(11), rw, PatternPage(5, 1), Free()));
  EXPECT_EQ(m().CoreCycles(1), t0 + 2 * eadd);
  // And core 0 queues behind core 1 in turn.
  ASSERT_OK(m().Eextend(0, b.secs, b.addr(10)));
  EXPECT_EQ(m().CoreCycles(0), t0 + 2 * eadd + Cost(I::kEextend));
}

TEST_F(VirtualTimeTest, CoreAheadOfEnclaveStartsAtItsOwnClock) {
  Built b = Build({.init = false});
  SyncClocks();
  const uint64_t late = m().CoreCycles(0) + 1000000;
  m().SetCoreCycles(1, late);
  ASSERT_OK(m().Eextend(1, b.secs, b.addr(0)));
  EXPECT_EQ(m().CoreCycles(1), late + Cost(I::kEextend));
}

TEST_F(VirtualTimeTest, TwoCoresOnDifferentEnclavesOverlap) {
  Built a = Build({.init = false});
  Built b = Build({.base = 2 * kHostBase, .init = false});
  SyncClocks();
  const uint64_t t0 = m().CoreCycles(0);
  const SecInfo rw = SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kW);
  ASSERT_OK(m().Eadd(0, a.secs, a.addr(10), rw, PatternPage(5, 0), Free()));
  ASSERT_OK(m().Eadd(1, b.secs, b.addr(10), rw, PatternPage(5, 0), Free()));
  EXPECT_EQ(m().CoreCycles(0), t0 + Cost(I::kEadd));
  EXPECT_EQ(m().CoreCycles(1), t0 + Cost(I::kEadd));
}

TEST_F(VirtualTimeTest, InstructionsWithoutEnclaveDoNotSerialize) {
  // EPA and EREMOVE of a free page belong to no enclave.
  Built b = Build({.init = false});
  SyncClocks();
  const uint64_t t0 = m().CoreCycles(0);
  ASSERT_OK(m().Eextend(0, b.secs, b.addr(0)));
  ASSERT_OK(m().Epa(1, Free()));
  EXPECT_EQ(m().CoreCycles(1), t0 + Cost(I::kEpa));
}

TEST_F(VirtualTimeTest, EnclaveThreadsSerializeOnTheirEnclave) {
  // Two threads of one enclave (EENTER on two TCSs) queue behind each other.
  Built b = BuildHost(1);
  const EpcPage second_tcs = b.data_pages[0];
  ASSERT_OK(m().Emodt(0, SecInfo::Make(PageType::kTcs, 0), second_tcs));
  ASSERT_OK(m().Etrack(0, b.secs));
  ASSERT_OK(m().Eenter(1, b.tcs));
  ASSERT_OK(m().Eaccept(1, SecInfo::Make(PageType::kTcs, secinfo::kModified), b.addr(0)));
  SyncClocks();
  const uint64_t t0 = m().CoreCycles(1);
  ASSERT_OK(m().Eenter(2, second_tcs));
  EXPECT_EQ(m().CoreCycles(2), t0 + Cost(I::kEenter));
  ASSERT_OK(m().Egetkey(1, KeyRequest{}));
  EXPECT_EQ(m().CoreCycles(1), t0 + Cost(I::kEenter) + Cost(I::kEgetkey));
}

}  // namespace
}  // namespace confide::machine::testing
