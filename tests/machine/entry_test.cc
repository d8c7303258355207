// EENTER, EEXIT, AEX, ERESUME (entry.cc), and the leaf-mode rules every
// instruction shares: ENCLS from a core in enclave mode is #UD, an in-enclave
// ENCLU leaf from outside is #GP, and a core id the machine lacks is #GP.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "test_util.h"

namespace confide::machine::testing {
namespace {

using I = Instruction;
constexpr CoreId kOs = 0;
constexpr CoreId kThread = 1;
constexpr CoreId kOther = 2;
constexpr CoreId kNoSuchCore = 99;

class EntryTest : public MachineTest {
 protected:
  void SetUp() override {
    MachineTest::SetUp();
    host_ = BuildHost(1);
  }
  Built host_;
};

// ---- EENTER ------------------------------------------------------------------------

TEST_F(EntryTest, EenterPutsCoreInEnclave) {
  EXPECT_EQ(m().CurrentEnclave(kThread), std::nullopt);
  ASSERT_TRUE(Charged(
      kThread, I::kEenter, [&] { return m().Eenter(kThread, host_.tcs); }, host_.secs));
  EXPECT_EQ(m().CurrentEnclave(kThread), host_.secs);
  EXPECT_EQ(m().CurrentEnclave(kOther), std::nullopt);
  // In enclave mode: the enclave's memory is readable on this core only.
  uint8_t x;
  EXPECT_OK(m().Read(kThread, host_.addr(0), {&x, 1}));
  EXPECT_GP(m().Read(kOther, host_.addr(0), {&x, 1}));
}

TEST_F(EntryTest, EenterWithoutSuchCoreFaultsGp) {
  EXPECT_GP(QUIET(m().Eenter(kNoSuchCore, host_.tcs)));
}

TEST_F(EntryTest, EenterInEnclaveModeFaultsGp) {
  Built other = Build({.base = 2 * kHostBase});
  ASSERT_OK(m().Eenter(kThread, host_.tcs));
  EXPECT_GP(QUIET(m().Eenter(kThread, other.tcs)));
  EXPECT_EQ(m().CurrentEnclave(kThread), host_.secs);
}

TEST_F(EntryTest, EenterOfNonTcsFaultsPf) {
  for (EpcPage p : {host_.data_pages[0], host_.secs, Free(), NewVa()})
    EXPECT_PF_AT(QUIET(m().Eenter(kThread, p)), Epc::Address(p));
  EXPECT_PF_AT(QUIET(m().Eenter(kThread, kEpcPages)), Epc::Address(kEpcPages));
}

TEST_F(EntryTest, EenterOfModifiedTcsFaultsPf) {
  ASSERT_OK(m().Emodt(kOs, SecInfo::Make(PageType::kTcs, 0), host_.data_pages[0]));
  EXPECT_PF_AT(QUIET(m().Eenter(kThread, host_.data_pages[0])), Epc::Address(host_.data_pages[0]));
  ASSERT_OK(m().Emodt(kOs, SecInfo::Make(PageType::kTrim, 0), host_.tcs));
  EXPECT_PF_AT(QUIET(m().Eenter(kThread, host_.tcs)), Epc::Address(host_.tcs));
}

TEST_F(EntryTest, EenterBeforeEinitFaultsGp) {
  Built b = Build({.base = 2 * kHostBase, .init = false});
  EXPECT_GP(QUIET(m().Eenter(kThread, b.tcs)));
}

TEST_F(EntryTest, EenterOfBusyTcsFaultsGp) {
  ASSERT_OK(m().Eenter(kThread, host_.tcs));
  EXPECT_GP(QUIET(m().Eenter(kOther, host_.tcs)));
  ASSERT_OK(m().Eexit(kThread));
  EXPECT_OK(m().Eenter(kOther, host_.tcs));
}

TEST_F(EntryTest, EenterWithoutFreeSsaFrameFaultsGp) {
  Built b = Build({.base = 2 * kHostBase, .nssa = 1});
  ASSERT_OK(m().Eenter(kThread, b.tcs));
  ASSERT_OK(m().Aex(kThread));  // CSSA = 1 = NSSA
  EXPECT_GP(QUIET(m().Eenter(kThread, b.tcs)));
  ASSERT_OK(m().Eresume(kThread, b.tcs));
}

// ---- EEXIT ---------------------------------------------------------------------------

TEST_F(EntryTest, EexitLeavesEnclaveAndFreesTcs) {
  ASSERT_OK(m().Eenter(kThread, host_.tcs));
  ASSERT_TRUE(Charged(
      kThread, I::kEexit, [&] { return m().Eexit(kThread); }, host_.secs));
  EXPECT_EQ(m().CurrentEnclave(kThread), std::nullopt);
  uint8_t x;
  EXPECT_GP(m().Read(kThread, host_.addr(0), {&x, 1}));
  EXPECT_OK(m().Eenter(kOther, host_.tcs));
  // EEXIT does not touch CSSA: ERESUME has nothing to resume.
  ASSERT_OK(m().Eexit(kOther));
  EXPECT_GP(m().Eresume(kThread, host_.tcs));
}

// ---- AEX / ERESUME -------------------------------------------------------------------

TEST_F(EntryTest, AexSavesStateAndEresumeRestoresIt) {
  ASSERT_OK(m().Eenter(kThread, host_.tcs));
  ASSERT_TRUE(Charged(
      kThread, I::kAex, [&] { return m().Aex(kThread); }, host_.secs));
  EXPECT_EQ(m().CurrentEnclave(kThread), std::nullopt);
  // One SSA frame used, one free (NSSA = 2): an EENTER still fits (the
  // exception handler's), and ERESUME is possible after it leaves.
  ASSERT_OK(m().Eenter(kOther, host_.tcs));
  ASSERT_OK(m().Eexit(kOther));
  ASSERT_TRUE(Charged(
      kThread, I::kEresume, [&] { return m().Eresume(kThread, host_.tcs); }, host_.secs));
  EXPECT_EQ(m().CurrentEnclave(kThread), host_.secs);
  ASSERT_OK(m().Eexit(kThread));
  // CSSA is back to 0.
  EXPECT_GP(m().Eresume(kThread, host_.tcs));
}

TEST_F(EntryTest, AexOutsideEnclaveFaultsGp) { EXPECT_GP(QUIET(m().Aex(kThread))); }

TEST_F(EntryTest, EresumeWithoutSuchCoreFaultsGp) {
  EXPECT_GP(QUIET(m().Eresume(kNoSuchCore, host_.tcs)));
}

TEST_F(EntryTest, EresumeInEnclaveModeFaultsGp) {
  ASSERT_OK(m().Eenter(kThread, host_.tcs));
  ASSERT_OK(m().Aex(kThread));
  ASSERT_OK(m().Eenter(kThread, host_.tcs));
  EXPECT_GP(QUIET(m().Eresume(kThread, host_.tcs)));
}

TEST_F(EntryTest, EresumeOfNonTcsFaultsPf) {
  EXPECT_PF_AT(QUIET(m().Eresume(kThread, host_.data_pages[0])), Epc::Address(host_.data_pages[0]));
  EXPECT_PF_AT(QUIET(m().Eresume(kThread, kEpcPages)), Epc::Address(kEpcPages));
}

TEST_F(EntryTest, EresumeOfBusyTcsFaultsGp) {
  ASSERT_OK(m().Eenter(kThread, host_.tcs));
  ASSERT_OK(m().Aex(kThread));
  ASSERT_OK(m().Eenter(kOther, host_.tcs));
  EXPECT_GP(QUIET(m().Eresume(kThread, host_.tcs)));
}

TEST_F(EntryTest, EresumeWithNothingSavedFaultsGp) {
  EXPECT_GP(QUIET(m().Eresume(kThread, host_.tcs)));
}

// ---- Leaf-mode rules for every instruction -------------------------------------------

struct LeafEnv {
  Machine& m;
  const Built& host;
  EpcPage free_page;
  EpcPage va;
};

struct LeafCase {
  const char* name;
  std::function<Status(const LeafEnv&, CoreId)> run;
};
// gtest prints a parameter in the test's name: print the case's name, not its bytes.
void PrintTo(const LeafCase& c, std::ostream* os) { *os << c.name; }

const SecInfo kRegRw = SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kW);

// ENCLS leaves with plausible arguments (each would succeed or fail
// architecturally from a core outside enclave mode).
std::vector<LeafCase> EnclsLeaves() {
  return {
      {"ECREATE",
       [](const LeafEnv& s, CoreId c) {
         Secs secs;
         secs.size = kHostSize;
         secs.base_addr = 4 * kHostBase;
         secs.attributes = {attr::kMode64Bit, kXfrm};
         return s.m.Ecreate(c, secs, s.free_page);
       }},
      {"EADD",
       [](const LeafEnv& s, CoreId c) {
         return s.m.Eadd(c, s.host.secs, s.host.addr(9), kRegRw, PatternPage(0, 0), s.free_page);
       }},
      {"EEXTEND",
       [](const LeafEnv& s, CoreId c) { return s.m.Eextend(c, s.host.secs, s.host.addr(0)); }},
      {"EINIT",
       [](const LeafEnv& s, CoreId c) { return s.m.Einit(c, s.host.secs, s.host.sigstruct); }},
      {"EREMOVE", [](const LeafEnv& s, CoreId c) { return s.m.Eremove(c, s.host.data_pages[0]); }},
      {"EAUG", [](const LeafEnv& s,
                  CoreId c) { return s.m.Eaug(c, s.host.secs, s.host.addr(9), s.free_page); }},
      {"EMODPR",
       [](const LeafEnv& s, CoreId c) {
         return s.m.Emodpr(c, SecInfo::Make(PageType::kReg, secinfo::kR), s.host.data_pages[0]);
       }},
      {"EMODT",
       [](const LeafEnv& s, CoreId c) {
         return s.m.Emodt(c, SecInfo::Make(PageType::kTrim, 0), s.host.data_pages[0]);
       }},
      {"EPA", [](const LeafEnv& s, CoreId c) { return s.m.Epa(c, s.free_page); }},
      {"EBLOCK", [](const LeafEnv& s, CoreId c) { return s.m.Eblock(c, s.host.data_pages[0]); }},
      {"ETRACK", [](const LeafEnv& s, CoreId c) { return s.m.Etrack(c, s.host.secs); }},
      {"EWB", [](const LeafEnv& s,
                 CoreId c) { return s.m.Ewb(c, s.host.data_pages[0], s.va, 0).status(); }},
      {"ELDU",
       [](const LeafEnv& s, CoreId c) {
         return s.m.Eldu(c, EvictedPage{}, s.host.secs, s.free_page, s.va, 0);
       }},
      {"ELDB",
       [](const LeafEnv& s, CoreId c) {
         return s.m.Eldb(c, EvictedPage{}, s.host.secs, s.free_page, s.va, 0);
       }},
  };
}

// ENCLU leaves that run inside an enclave (and AEX, an event of a core in
// enclave mode).
std::vector<LeafCase> InsideLeaves() {
  return {
      {"EACCEPT",
       [](const LeafEnv& s, CoreId c) {
         return s.m.Eaccept(
             c, SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kW | secinfo::kPending),
             s.host.addr(0));
       }},
      {"EACCEPTCOPY",
       [](const LeafEnv& s, CoreId c) {
         return s.m.Eacceptcopy(c, kRegRw, s.host.addr(9), s.host.addr(0));
       }},
      {"EMODPE", [](const LeafEnv& s, CoreId c) { return s.m.Emodpe(c, kRegRw, s.host.addr(0)); }},
      {"EREPORT", [](const LeafEnv& s,
                     CoreId c) { return s.m.Ereport(c, TargetInfo{}, ReportData{}).status(); }},
      {"EGETKEY", [](const LeafEnv& s, CoreId c) { return s.m.Egetkey(c, KeyRequest{}).status(); }},
      {"EEXIT", [](const LeafEnv& s, CoreId c) { return s.m.Eexit(c); }},
      {"AEX", [](const LeafEnv& s, CoreId c) { return s.m.Aex(c); }},
      {"EMAP",
       [](const LeafEnv& s, CoreId c) { return s.m.Emap(c, s.host.secs, crypto::Sha256Digest{}); }},
      {"EUNMAP", [](const LeafEnv& s, CoreId c) { return s.m.Eunmap(c, s.host.secs); }},
      {"Read",
       [](const LeafEnv& s, CoreId c) {
         uint8_t x;
         return s.m.Read(c, s.host.addr(0), {&x, 1});
       }},
      {"Write",
       [](const LeafEnv& s, CoreId c) {
         const uint8_t x = 0;
         return s.m.Write(c, s.host.addr(0), {&x, 1});
       }},
      {"Translate",
       [](const LeafEnv& s, CoreId c) { return s.m.Translate(c, s.host.addr(0)).status(); }},
  };
}

class LeafModeTest : public EntryTest, public ::testing::WithParamInterface<LeafCase> {
 protected:
  void SetUp() override {
    EntryTest::SetUp();
    va_ = NewVa();
    free_ = Free();
  }
  LeafEnv S() { return LeafEnv{m(), host_, free_, va_}; }
  EpcPage va_ = 0, free_ = 0;
};

class EnclsLeafTest : public LeafModeTest {};

TEST_P(EnclsLeafTest, InEnclaveModeFaultsUd) {
  ASSERT_OK(m().Eenter(kThread, host_.tcs));
  EXPECT_UD(QUIET(GetParam().run(S(), kThread)));
  EXPECT_EQ(m().CurrentEnclave(kThread), host_.secs);
  EXPECT_FALSE(m().Epcm(free_).valid);
}

TEST_P(EnclsLeafTest, UnknownCoreFaultsGp) { EXPECT_GP(QUIET(GetParam().run(S(), kNoSuchCore))); }

INSTANTIATE_TEST_SUITE_P(Leaves, EnclsLeafTest, ::testing::ValuesIn(EnclsLeaves()),
                         [](const auto& info) { return std::string(info.param.name); });

class InsideLeafTest : public LeafModeTest {};

TEST_P(InsideLeafTest, OutsideEnclaveModeFaultsGp) {
  EXPECT_GP(QUIET(GetParam().run(S(), kThread)));
}

TEST_P(InsideLeafTest, UnknownCoreFaultsGp) { EXPECT_GP(QUIET(GetParam().run(S(), kNoSuchCore))); }

INSTANTIATE_TEST_SUITE_P(Leaves, InsideLeafTest, ::testing::ValuesIn(InsideLeaves()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(LeafTable, EveryInstructionHasARow) {
  // The cases above cover each modeled instruction once: 14 ENCLS leaves,
  // 9 in-enclave leaves (AEX included) and EENTER/ERESUME (EntryTest).
  std::set<std::string> covered;
  for (const auto& c : EnclsLeaves()) covered.insert(c.name);
  for (const auto& c : InsideLeaves()) covered.insert(c.name);
  covered.insert("EENTER");
  covered.insert("ERESUME");
  for (const auto& row : AllInstructions())
    EXPECT_TRUE(covered.count(std::string(row.name))) << row.name;
  const std::vector<LeafCase> encls = EnclsLeaves();
  for (const auto& row : AllInstructions()) {
    if (row.leaf == Leaf::kEncls) {
      EXPECT_TRUE(std::any_of(encls.begin(), encls.end(),
                              [&](const LeafCase& c) { return c.name == row.name; }))
          << row.name << " is ENCLS";
    }
  }
}

}  // namespace
}  // namespace confide::machine::testing
