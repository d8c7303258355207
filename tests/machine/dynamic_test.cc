// SGX2: EAUG, EMODPR, EMODT (ENCLS) and EACCEPT, EACCEPTCOPY, EMODPE
// (ENCLU) — success paths and every check (dynamic.cc). PIE's refusals of
// SGX2 on plugins are in pie_test.cc.
#include <gtest/gtest.h>

#include "test_util.h"

namespace confide::machine::testing {
namespace {

using I = Instruction;
constexpr CoreId kOs = 0;      // ENCLS leaves
constexpr CoreId kThread = 1;  // the enclave's thread

const SecInfo kAcceptAug =
    SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kW | secinfo::kPending);

class DynamicTest : public MachineTest {
 protected:
  void SetUp() override {
    MachineTest::SetUp();
    host_ = BuildHost(2);
  }
  // EAUG a page at `addr` of the host; returns it.
  EpcPage Aug(uint64_t addr) {
    const EpcPage p = Free();
    EXPECT_OK(m().Eaug(kOs, host_.secs, addr, p));
    return p;
  }
  // Makes every EPCM change so far tracked for a thread that enters next.
  void Track() { ASSERT_OK(m().Etrack(kOs, host_.secs)); }
  void Enter() { ASSERT_OK(m().Eenter(kThread, host_.tcs)); }
  void Exit() { ASSERT_OK(m().Eexit(kThread)); }

  Built host_;
};

// ---- EAUG -------------------------------------------------------------------------

TEST_F(DynamicTest, EaugAddsPendingZeroedPage) {
  const EpcPage p = Free();
  const uint64_t addr = host_.addr(20);
  const uint32_t free_before = m().FreePageCount();
  ASSERT_TRUE(Charged(
      kOs, I::kEaug, [&] { return m().Eaug(kOs, host_.secs, addr, p); }, host_.secs));
  const EpcmEntry e = m().Epcm(p);
  EXPECT_TRUE(e.valid);
  EXPECT_EQ(e.type, PageType::kReg);
  EXPECT_EQ(e.perms, secinfo::kR | secinfo::kW);
  EXPECT_TRUE(e.pending);
  EXPECT_FALSE(e.modified);
  EXPECT_EQ(e.linaddr, addr);
  EXPECT_EQ(e.owner, host_.secs);
  for (uint8_t b : m().PageBytes(p)) ASSERT_EQ(b, 0);
  EXPECT_EQ(m().FreePageCount(), free_before - 1);
  EXPECT_EQ(m().StatsOf(host_.secs)->events.pages_augmented, 1u);
  EXPECT_EQ(m().Counters().events.pages_augmented, 1u);
  // Pending: not accessible until EACCEPT.
  Enter();
  uint8_t x;
  EXPECT_PF_AT(m().Read(kThread, addr, {&x, 1}), addr);
  ASSERT_OK(m().Eaccept(kThread, kAcceptAug, addr));
  EXPECT_OK(m().Read(kThread, addr, {&x, 1}));
}

TEST_F(DynamicTest, EaugUnalignedFaultsGp) {
  EXPECT_GP(QUIET(m().Eaug(kOs, host_.secs, host_.addr(20) + 8, Free())));
}

TEST_F(DynamicTest, EaugOfNonSecsFaultsPf) {
  EXPECT_PF_AT(QUIET(m().Eaug(kOs, host_.tcs, host_.addr(20), Free())), Epc::Address(host_.tcs));
}

TEST_F(DynamicTest, EaugBeforeEinitFaultsGp) {
  Built b = Build({.base = 2 * kHostBase, .init = false});
  EXPECT_GP(QUIET(m().Eaug(kOs, b.secs, b.addr(20), Free())));
}

TEST_F(DynamicTest, EaugOutsideElrangeFaultsGp) {
  EXPECT_GP(QUIET(m().Eaug(kOs, host_.secs, kHostBase + kHostSize, Free())));
  EXPECT_GP(QUIET(m().Eaug(kOs, host_.secs, kHostBase - kPageSize, Free())));
}

TEST_F(DynamicTest, EaugAtOccupiedAddressIsVaConflict) {
  EXPECT_SGX(QUIET(m().Eaug(kOs, host_.secs, host_.addr(0), Free())), kVaConflict);
  EXPECT_SGX(QUIET(m().Eaug(kOs, host_.secs, host_.tcs_addr, Free())), kVaConflict);
  Aug(host_.addr(30));
  EXPECT_SGX(QUIET(m().Eaug(kOs, host_.secs, host_.addr(30), Free())), kVaConflict);
}

TEST_F(DynamicTest, EaugAtEvictedAddressIsVaConflict) {
  const EpcPage va = NewVa();
  ASSERT_OK(Evict(m(), kOs, host_.secs, host_.data_pages[1], va, 0));
  EXPECT_SGX(QUIET(m().Eaug(kOs, host_.secs, host_.addr(1), Free())), kVaConflict);
}

TEST_F(DynamicTest, EaugPageInUseOrOutsideEpcFaultsPf) {
  EXPECT_PF_AT(QUIET(m().Eaug(kOs, host_.secs, host_.addr(20), host_.data_pages[0])),
               Epc::Address(host_.data_pages[0]));
  EXPECT_PF_AT(QUIET(m().Eaug(kOs, host_.secs, host_.addr(20), kEpcPages)),
               Epc::Address(kEpcPages));
}

// ---- EACCEPT ------------------------------------------------------------------------

TEST_F(DynamicTest, EacceptOfAugClearsPending) {
  const uint64_t addr = host_.addr(20);
  const EpcPage p = Aug(addr);
  Enter();
  ASSERT_TRUE(Charged(
      kThread, I::kEaccept, [&] { return m().Eaccept(kThread, kAcceptAug, addr); }, host_.secs));
  EXPECT_FALSE(m().Epcm(p).pending);
  const uint8_t data[3] = {1, 2, 3};
  EXPECT_OK(m().Write(kThread, addr + 100, data));
}

TEST_F(DynamicTest, EacceptUnalignedFaultsGp) {
  Enter();
  EXPECT_GP(QUIET(m().Eaccept(kThread, kAcceptAug, host_.addr(0) + 1)));
}

TEST_F(DynamicTest, EacceptReservedSecinfoFaultsGp) {
  const uint64_t addr = host_.addr(20);
  Aug(addr);
  Enter();
  EXPECT_GP(QUIET(m().Eaccept(kThread, SecInfo{kAcceptAug.flags | (1ull << 20)}, addr)));
}

TEST_F(DynamicTest, EacceptWithoutPageFaultsPf) {
  Enter();
  EXPECT_PF_AT(QUIET(m().Eaccept(kThread, kAcceptAug, host_.addr(40))), host_.addr(40));
}

TEST_F(DynamicTest, EacceptPageTypeMismatch) {
  const uint64_t addr = host_.addr(20);
  Aug(addr);
  Enter();
  EXPECT_SGX(QUIET(m().Eaccept(kThread, SecInfo::Make(PageType::kTcs, secinfo::kPending), addr)),
             kPageAttributesMismatch);
}

TEST_F(DynamicTest, EacceptPendingOfNonPendingPageMismatch) {
  Enter();
  EXPECT_SGX(QUIET(m().Eaccept(kThread, kAcceptAug, host_.addr(0))), kPageAttributesMismatch);
}

TEST_F(DynamicTest, EacceptPendingWithOtherPermissionsMismatch) {
  const uint64_t addr = host_.addr(20);
  Aug(addr);
  Enter();
  EXPECT_SGX(QUIET(m().Eaccept(
                 kThread, SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kPending), addr)),
             kPageAttributesMismatch);
}

TEST_F(DynamicTest, EacceptWithNoChangeFlagMismatch) {
  const uint64_t addr = host_.addr(20);
  Aug(addr);
  Enter();
  EXPECT_SGX(
      QUIET(m().Eaccept(kThread, SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kW), addr)),
      kPageAttributesMismatch);
}

// ---- EMODPR + EACCEPT(PR) + EMODPE ---------------------------------------------------

TEST_F(DynamicTest, EmodprRestrictsAndNeedsTrackedAccept) {
  const EpcPage p = host_.data_pages[0];
  Enter();  // a thread inside since before the change
  ASSERT_TRUE(Charged(
      kOs, I::kEmodpr,
      [&] { return m().Emodpr(kOs, SecInfo::Make(PageType::kReg, secinfo::kR), p); }, host_.secs));
  EpcmEntry e = m().Epcm(p);
  EXPECT_EQ(e.perms, secinfo::kR);
  EXPECT_TRUE(e.pr);
  // The restriction is in force at once.
  const uint8_t one = 1;
  EXPECT_PF(m().Write(kThread, host_.addr(0), {&one, 1}));
  const SecInfo accept = SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kPr);
  // No ETRACK yet.
  EXPECT_SGX(QUIET(m().Eaccept(kThread, accept, host_.addr(0))), kNotTracked);
  // ETRACK, but this thread entered before it.
  Track();
  EXPECT_SGX(QUIET(m().Eaccept(kThread, accept, host_.addr(0))), kNotTracked);
  // Leave and come back (as after the OS's IPI): now tracked.
  ASSERT_OK(m().Aex(kThread));
  ASSERT_OK(m().Eresume(kThread, host_.tcs));
  ASSERT_TRUE(Charged(
      kThread, I::kEaccept, [&] { return m().Eaccept(kThread, accept, host_.addr(0)); },
      host_.secs));
  EXPECT_FALSE(m().Epcm(p).pr);
  EXPECT_EQ(m().Epcm(p).perms, secinfo::kR);
}

TEST_F(DynamicTest, EmodprIntersectsPermissions) {
  const EpcPage p = host_.data_pages[0];
  ASSERT_OK(m().Emodpr(kOs, SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kX), p));
  EXPECT_EQ(m().Epcm(p).perms, secinfo::kR);  // RW & RX
}

TEST_F(DynamicTest, EacceptPrChecks) {
  const EpcPage p = host_.data_pages[0];
  ASSERT_OK(m().Emodpr(kOs, SecInfo::Make(PageType::kReg, secinfo::kR), p));
  Track();
  Enter();
  // Wrong permissions.
  EXPECT_SGX(QUIET(m().Eaccept(
                 kThread, SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kW | secinfo::kPr),
                 host_.addr(0))),
             kPageAttributesMismatch);
  // A page without a pending restriction.
  EXPECT_SGX(QUIET(m().Eaccept(
                 kThread, SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kW | secinfo::kPr),
                 host_.addr(1))),
             kPageAttributesMismatch);
}

TEST_F(DynamicTest, EmodprChecksFaultGp) {
  const EpcPage p = host_.data_pages[0];
  EXPECT_GP(QUIET(
      m().Emodpr(kOs, SecInfo{SecInfo::Make(PageType::kReg, secinfo::kR).flags | (1u << 7)}, p)));
  EXPECT_GP(QUIET(m().Emodpr(kOs, SecInfo::Make(PageType::kReg, secinfo::kW), p)));
}

TEST_F(DynamicTest, EmodprOfInvalidPageFaultsPf) {
  const EpcPage p = Free();
  EXPECT_PF_AT(QUIET(m().Emodpr(kOs, SecInfo::Make(PageType::kReg, secinfo::kR), p)),
               Epc::Address(p));
  EXPECT_PF_AT(QUIET(m().Emodpr(kOs, SecInfo::Make(PageType::kReg, secinfo::kR), kEpcPages)),
               Epc::Address(kEpcPages));
}

TEST_F(DynamicTest, EmodprOfSecsOrVaIsNotModifiable) {
  EXPECT_SGX(QUIET(m().Emodpr(kOs, SecInfo::Make(PageType::kReg, secinfo::kR), host_.secs)),
             kPageNotModifiable);
  const EpcPage va = NewVa();
  EXPECT_SGX(QUIET(m().Emodpr(kOs, SecInfo::Make(PageType::kReg, secinfo::kR), va)),
             kPageNotModifiable);
}

TEST_F(DynamicTest, EmodprBeforeEinitFaultsGp) {
  Built b = Build({.base = 2 * kHostBase, .init = false});
  EXPECT_GP(QUIET(m().Emodpr(kOs, SecInfo::Make(PageType::kReg, secinfo::kR), b.data_pages[0])));
}

TEST_F(DynamicTest, EmodprOfTcsPendingOrModifiedIsNotModifiable) {
  const SecInfo r = SecInfo::Make(PageType::kReg, secinfo::kR);
  EXPECT_SGX(QUIET(m().Emodpr(kOs, r, host_.tcs)), kPageNotModifiable);
  const EpcPage pending = Aug(host_.addr(20));
  EXPECT_SGX(QUIET(m().Emodpr(kOs, r, pending)), kPageNotModifiable);
  ASSERT_OK(m().Emodt(kOs, SecInfo::Make(PageType::kTrim, 0), host_.data_pages[1]));
  EXPECT_SGX(QUIET(m().Emodpr(kOs, r, host_.data_pages[1])), kPageNotModifiable);
}

TEST_F(DynamicTest, EmodpeExtendsPermissions) {
  const EpcPage p = host_.data_pages[0];
  ASSERT_OK(m().Emodpr(kOs, SecInfo::Make(PageType::kReg, secinfo::kR), p));
  Enter();
  ASSERT_TRUE(Charged(
      kThread, I::kEmodpe,
      [&] {
        return m().Emodpe(kThread, SecInfo::Make(PageType::kReg, secinfo::kW | secinfo::kR),
                          host_.addr(0));
      },
      host_.secs));
  EXPECT_EQ(m().Epcm(p).perms, secinfo::kR | secinfo::kW);
  const uint8_t one = 1;
  EXPECT_OK(m().Write(kThread, host_.addr(0), {&one, 1}));
}

TEST_F(DynamicTest, EmodpeChecksFaultGp) {
  Enter();
  const SecInfo rx = SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kX);
  EXPECT_GP(QUIET(m().Emodpe(kThread, rx, host_.addr(0) + 4)));
  EXPECT_GP(QUIET(m().Emodpe(kThread, SecInfo{rx.flags | (1ull << 32)}, host_.addr(0))));
  EXPECT_GP(QUIET(m().Emodpe(kThread, SecInfo::Make(PageType::kReg, secinfo::kW), host_.addr(0))));
}

TEST_F(DynamicTest, EmodpeWithoutPageFaultsPf) {
  Enter();
  EXPECT_PF_AT(
      QUIET(m().Emodpe(kThread, SecInfo::Make(PageType::kReg, secinfo::kR), host_.addr(50))),
      host_.addr(50));
}

TEST_F(DynamicTest, EmodpeOfTcsPendingOrModifiedIsNotModifiable) {
  const SecInfo r = SecInfo::Make(PageType::kReg, secinfo::kR);
  Aug(host_.addr(20));
  ASSERT_OK(m().Emodt(kOs, SecInfo::Make(PageType::kTrim, 0), host_.data_pages[1]));
  Enter();
  EXPECT_SGX(QUIET(m().Emodpe(kThread, r, host_.tcs_addr)), kPageNotModifiable);
  EXPECT_SGX(QUIET(m().Emodpe(kThread, r, host_.addr(20))), kPageNotModifiable);
  EXPECT_SGX(QUIET(m().Emodpe(kThread, r, host_.addr(1))), kPageNotModifiable);
}

// ---- EMODT + EACCEPT(MODIFIED) ----------------------------------------------------------

TEST_F(DynamicTest, EmodtToTrimThenAcceptThenRemove) {
  const EpcPage p = host_.data_pages[1];
  ASSERT_TRUE(Charged(
      kOs, I::kEmodt, [&] { return m().Emodt(kOs, SecInfo::Make(PageType::kTrim, 0), p); },
      host_.secs));
  EpcmEntry e = m().Epcm(p);
  EXPECT_EQ(e.type, PageType::kTrim);
  EXPECT_EQ(e.perms, 0);
  EXPECT_TRUE(e.modified);
  const SecInfo accept = SecInfo::Make(PageType::kTrim, secinfo::kModified);
  Enter();
  uint8_t x;
  EXPECT_PF(m().Read(kThread, host_.addr(1), {&x, 1}));
  EXPECT_SGX(QUIET(m().Eaccept(kThread, accept, host_.addr(1))), kNotTracked);
  Exit();
  Track();
  Enter();
  ASSERT_OK(m().Eaccept(kThread, accept, host_.addr(1)));
  EXPECT_FALSE(m().Epcm(p).modified);
  EXPECT_PF(m().Read(kThread, host_.addr(1), {&x, 1}));
  Exit();
  EXPECT_OK(m().Eremove(kOs, p));
}

TEST_F(DynamicTest, EmodtToTcsMakesAnEnterableTcs) {
  const EpcPage p = host_.data_pages[1];
  ASSERT_OK(m().Emodt(kOs, SecInfo::Make(PageType::kTcs, 0), p));
  EXPECT_PF_AT(m().Eenter(2, p), Epc::Address(p));  // modified: not yet a TCS
  Track();
  Enter();
  ASSERT_OK(m().Eaccept(kThread, SecInfo::Make(PageType::kTcs, secinfo::kModified), host_.addr(1)));
  EXPECT_EQ(m().Epcm(p).type, PageType::kTcs);
  EXPECT_OK(m().Eenter(2, p));
  EXPECT_EQ(m().CurrentEnclave(2), host_.secs);
}

TEST_F(DynamicTest, EacceptModifiedChecks) {
  Enter();
  // A page that was not modified.
  EXPECT_SGX(
      QUIET(m().Eaccept(kThread, SecInfo::Make(PageType::kReg, secinfo::kModified), host_.addr(0))),
      kPageAttributesMismatch);
}

TEST_F(DynamicTest, EmodtChecksFaultGp) {
  const EpcPage p = host_.data_pages[0];
  EXPECT_GP(
      QUIET(m().Emodt(kOs, SecInfo{SecInfo::Make(PageType::kTrim, 0).flags | (1ull << 62)}, p)));
  EXPECT_GP(QUIET(m().Emodt(kOs, SecInfo::Make(PageType::kReg, 0), p)));
  EXPECT_GP(QUIET(m().Emodt(kOs, SecInfo::Make(PageType::kSreg, 0), p)));
  EXPECT_GP(QUIET(m().Emodt(kOs, SecInfo::Make(PageType::kTrim, secinfo::kR), p)));
}

TEST_F(DynamicTest, EmodtOfInvalidPageFaultsPf) {
  const EpcPage p = Free();
  EXPECT_PF_AT(QUIET(m().Emodt(kOs, SecInfo::Make(PageType::kTrim, 0), p)), Epc::Address(p));
}

TEST_F(DynamicTest, EmodtOfSecsOrVaIsNotModifiable) {
  EXPECT_SGX(QUIET(m().Emodt(kOs, SecInfo::Make(PageType::kTrim, 0), host_.secs)),
             kPageNotModifiable);
  const EpcPage va = NewVa();
  EXPECT_SGX(QUIET(m().Emodt(kOs, SecInfo::Make(PageType::kTrim, 0), va)), kPageNotModifiable);
}

TEST_F(DynamicTest, EmodtBeforeEinitFaultsGp) {
  Built b = Build({.base = 2 * kHostBase, .init = false});
  EXPECT_GP(QUIET(m().Emodt(kOs, SecInfo::Make(PageType::kTrim, 0), b.data_pages[0])));
}

TEST_F(DynamicTest, EmodtOfChangedPageIsNotModifiable) {
  const SecInfo trim = SecInfo::Make(PageType::kTrim, 0);
  // Pending (EAUG), modified (EMODT), restriction pending (EMODPR), PT_TRIM.
  const EpcPage pending = Aug(host_.addr(20));
  EXPECT_SGX(QUIET(m().Emodt(kOs, trim, pending)), kPageNotModifiable);
  ASSERT_OK(m().Emodt(kOs, trim, host_.data_pages[1]));
  EXPECT_SGX(QUIET(m().Emodt(kOs, trim, host_.data_pages[1])), kPageNotModifiable);
  ASSERT_OK(m().Emodpr(kOs, SecInfo::Make(PageType::kReg, secinfo::kR), host_.data_pages[0]));
  EXPECT_SGX(QUIET(m().Emodt(kOs, trim, host_.data_pages[0])), kPageNotModifiable);
}

TEST_F(DynamicTest, EmodtOfBusyTcsIsEnclaveAct) {
  Enter();
  EXPECT_SGX(QUIET(m().Emodt(kOs, SecInfo::Make(PageType::kTrim, 0), host_.tcs)), kEnclaveAct);
  Exit();
  EXPECT_OK(m().Emodt(kOs, SecInfo::Make(PageType::kTrim, 0), host_.tcs));
}

// ---- EACCEPTCOPY ------------------------------------------------------------------------

TEST_F(DynamicTest, EacceptcopyCopiesPrivatePage) {
  const uint64_t dest = host_.addr(20);
  const EpcPage p = Aug(dest);
  Enter();
  const SecInfo rx = SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kX);
  ASSERT_TRUE(Charged(
      kThread, I::kEacceptcopy, [&] { return m().Eacceptcopy(kThread, rx, dest, host_.addr(0)); },
      host_.secs));
  const EpcmEntry e = m().Epcm(p);
  EXPECT_FALSE(e.pending);
  EXPECT_EQ(e.perms, secinfo::kR | secinfo::kX);
  const Page want = PatternPage(1, 0);
  EXPECT_TRUE(std::equal(want.begin(), want.end(), m().PageBytes(p).begin()));
  EXPECT_EQ(m().Counters().events.cow_copies, 0u);  // a private source is no copy-on-write
}

TEST_F(DynamicTest, EacceptcopyChecksFaultGp) {
  const uint64_t dest = host_.addr(20);
  Aug(dest);
  Enter();
  const SecInfo rw = SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kW);
  EXPECT_GP(QUIET(m().Eacceptcopy(kThread, rw, dest + 8, host_.addr(0))));
  EXPECT_GP(QUIET(m().Eacceptcopy(kThread, rw, dest, host_.addr(0) + 8)));
  EXPECT_GP(QUIET(m().Eacceptcopy(kThread, SecInfo{rw.flags | (1ull << 16)}, dest, host_.addr(0))));
  EXPECT_GP(QUIET(m().Eacceptcopy(kThread, SecInfo::Make(PageType::kTcs, 0), dest, host_.addr(0))));
  EXPECT_GP(QUIET(
      m().Eacceptcopy(kThread, SecInfo::Make(PageType::kReg, secinfo::kW), dest, host_.addr(0))));
}

TEST_F(DynamicTest, EacceptcopyWithoutDestinationFaultsPf) {
  Enter();
  EXPECT_PF_AT(QUIET(m().Eacceptcopy(kThread, SecInfo::Make(PageType::kReg, secinfo::kR),
                                     host_.addr(21), host_.addr(0))),
               host_.addr(21));
}

TEST_F(DynamicTest, EacceptcopyToNonPendingPageMismatch) {
  Enter();
  EXPECT_SGX(QUIET(m().Eacceptcopy(kThread, SecInfo::Make(PageType::kReg, secinfo::kR),
                                   host_.addr(1), host_.addr(0))),
             kPageAttributesMismatch);
}

TEST_F(DynamicTest, EacceptcopyFromUnmappedSourceFaultsPf) {
  const uint64_t dest = host_.addr(20);
  Aug(dest);
  Enter();
  EXPECT_PF_AT(QUIET(m().Eacceptcopy(kThread, SecInfo::Make(PageType::kReg, secinfo::kR), dest,
                                     host_.addr(50))),
               host_.addr(50));
  // src == dest without a plugin underneath: the pending page itself is no source.
  EXPECT_PF_AT(
      QUIET(m().Eacceptcopy(kThread, SecInfo::Make(PageType::kReg, secinfo::kR), dest, dest)),
      dest);
}

TEST_F(DynamicTest, EacceptcopyFromUnreadableSourceFaultsPf) {
  ASSERT_OK(m().Emodpr(kOs, SecInfo::Make(PageType::kReg, 0), host_.data_pages[0]));
  const uint64_t dest = host_.addr(20);
  Aug(dest);
  Enter();
  EXPECT_PF_AT(QUIET(m().Eacceptcopy(kThread, SecInfo::Make(PageType::kReg, secinfo::kR), dest,
                                     host_.addr(0))),
               host_.addr(0));
}

}  // namespace
}  // namespace confide::machine::testing
