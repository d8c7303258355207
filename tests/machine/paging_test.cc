// EPC paging: EPA, EBLOCK, ETRACK, EWB, ELDU, ELDB — success paths,
// tracking, anti-replay, and every check (paging.cc).
#include <gtest/gtest.h>

#include "test_util.h"

namespace confide::machine::testing {
namespace {

using I = Instruction;
constexpr CoreId kOs = 0;
constexpr CoreId kThread = 1;

class PagingTest : public MachineTest {
 protected:
  void SetUp() override {
    MachineTest::SetUp();
    host_ = BuildHost(3);
    va_ = NewVa();
  }
  EpcPage data(uint32_t i) const { return host_.data_pages[i]; }
  Status BlockAndTrack(EpcPage p) {
    CONFIDE_RETURN_IF_ERROR(m().Eblock(kOs, p));
    return m().Etrack(kOs, host_.secs);
  }
  uint64_t Slot(EpcPage va, uint32_t slot) {
    return LoadLe<uint64_t>(m().PageBytes(va).data() + 8 * slot);
  }

  Built host_;
  EpcPage va_ = 0;
};

// ---- EPA -------------------------------------------------------------------------

TEST_F(PagingTest, EpaMakesZeroedVaPage) {
  const EpcPage p = Free();
  const uint32_t free_before = m().FreePageCount();
  ASSERT_TRUE(Charged(kOs, I::kEpa, [&] { return m().Epa(kOs, p); }));
  const EpcmEntry e = m().Epcm(p);
  EXPECT_TRUE(e.valid);
  EXPECT_EQ(e.type, PageType::kVa);
  EXPECT_EQ(m().FreePageCount(), free_before - 1);
  for (uint8_t b : m().PageBytes(p)) ASSERT_EQ(b, 0);
}

TEST_F(PagingTest, EpaOfUsedOrOutsidePageFaultsPf) {
  EXPECT_PF_AT(QUIET(m().Epa(kOs, va_)), Epc::Address(va_));
  EXPECT_PF_AT(QUIET(m().Epa(kOs, data(0))), Epc::Address(data(0)));
  EXPECT_PF_AT(QUIET(m().Epa(kOs, kEpcPages)), Epc::Address(kEpcPages));
}

// ---- EBLOCK ----------------------------------------------------------------------

TEST_F(PagingTest, EblockBlocksAccess) {
  ASSERT_TRUE(Charged(
      kOs, I::kEblock, [&] { return m().Eblock(kOs, data(0)); }, host_.secs));
  EXPECT_TRUE(m().Epcm(data(0)).blocked);
  ASSERT_OK(m().Eenter(kThread, host_.tcs));
  uint8_t x;
  EXPECT_PF_AT(m().Read(kThread, host_.addr(0) + 5, {&x, 1}), host_.addr(0) + 5);
  EXPECT_OK(m().Read(kThread, host_.addr(1), {&x, 1}));
}

TEST_F(PagingTest, EblockOfFreePageIsPgInvld) {
  EXPECT_SGX(QUIET(m().Eblock(kOs, Free())), kPgInvld);
}

TEST_F(PagingTest, EblockOutsideEpcFaultsPf) {
  EXPECT_PF_AT(QUIET(m().Eblock(kOs, kEpcPages)), Epc::Address(kEpcPages));
}

TEST_F(PagingTest, EblockOfSecsOrVaIsNotBlockable) {
  EXPECT_SGX(QUIET(m().Eblock(kOs, host_.secs)), kNotBlockable);
  EXPECT_SGX(QUIET(m().Eblock(kOs, va_)), kNotBlockable);
}

TEST_F(PagingTest, EblockTwiceIsBlkState) {
  ASSERT_OK(m().Eblock(kOs, data(0)));
  EXPECT_SGX(QUIET(m().Eblock(kOs, data(0))), kBlkState);
}

// ---- ETRACK ----------------------------------------------------------------------

TEST_F(PagingTest, EtrackIsCharged) {
  ASSERT_TRUE(Charged(
      kOs, I::kEtrack, [&] { return m().Etrack(kOs, host_.secs); }, host_.secs));
}

TEST_F(PagingTest, EtrackOfNonSecsFaultsPf) {
  EXPECT_PF_AT(QUIET(m().Etrack(kOs, data(0))), Epc::Address(data(0)));
  const EpcPage f = Free();
  EXPECT_PF_AT(QUIET(m().Etrack(kOs, f)), Epc::Address(f));
}

TEST_F(PagingTest, EtrackWithThreadFromBeforePreviousEtrackIsPrevTrkIncmpl) {
  ASSERT_OK(m().Eenter(kThread, host_.tcs));
  ASSERT_OK(m().Etrack(kOs, host_.secs));  // the thread predates this one
  EXPECT_SGX(QUIET(m().Etrack(kOs, host_.secs)), kPrevTrkIncmpl);
  ASSERT_OK(m().Eexit(kThread));
  EXPECT_OK(m().Etrack(kOs, host_.secs));
}

TEST_F(PagingTest, EtrackWithThreadEnteredAfterPreviousEtrackSucceeds) {
  ASSERT_OK(m().Etrack(kOs, host_.secs));
  ASSERT_OK(m().Eenter(kThread, host_.tcs));
  EXPECT_OK(m().Etrack(kOs, host_.secs));
}

// ---- EWB -------------------------------------------------------------------------

TEST_F(PagingTest, EwbSealsAndFreesPage) {
  const EpcPage p = data(1);
  const uint32_t free_before = m().FreePageCount();
  ASSERT_OK(BlockAndTrack(p));
  StatusOr<EvictedPage> blob;
  ASSERT_TRUE(Charged(
      kOs, I::kEwb,
      [&] {
        blob = m().Ewb(kOs, p, va_, 7);
        return blob.status();
      },
      host_.secs));
  EXPECT_EQ(blob->linaddr, host_.addr(1));
  EXPECT_NE(blob->enclave_id, 0u);
  EXPECT_EQ(blob->secinfo.flags, SecInfo::Make(PageType::kReg, secinfo::kR | secinfo::kW).flags);
  const Page plain = PatternPage(1, 1);
  EXPECT_FALSE(std::equal(plain.begin(), plain.end(), blob->ciphertext.begin()));
  EXPECT_FALSE(m().Epcm(p).valid);
  EXPECT_EQ(m().FreePageCount(), free_before + 1);
  for (uint8_t b : m().PageBytes(p)) ASSERT_EQ(b, 0);
  EXPECT_NE(Slot(va_, 7), 0u);
  EXPECT_EQ(m().StatsOf(host_.secs)->events.pages_evicted, 1u);
  EXPECT_EQ(m().Counters().events.pages_evicted, 1u);
  ASSERT_OK(m().Eenter(kThread, host_.tcs));
  uint8_t x;
  EXPECT_PF_AT(m().Read(kThread, host_.addr(1), {&x, 1}), host_.addr(1));
}

TEST_F(PagingTest, EwbOfInvalidPageFaultsPf) {
  const EpcPage p = Free();
  EXPECT_PF_AT(QUIET(m().Ewb(kOs, p, va_, 0)), Epc::Address(p));
  EXPECT_PF_AT(QUIET(m().Ewb(kOs, kEpcPages, va_, 0)), Epc::Address(kEpcPages));
}

// EWB and ELDU of VA pages: va_eviction_test.cc.

TEST_F(PagingTest, EwbOfSecsWithChildrenIsChildPresent) {
  EXPECT_SGX(QUIET(m().Ewb(kOs, host_.secs, va_, 0)), kChildPresent);
}

TEST_F(PagingTest, EwbOfChildlessSecsIsUnimplemented) {
  for (auto [addr, page] : host_.page_at) ASSERT_OK(m().Eremove(kOs, page));
  auto r = QUIET(m().Ewb(kOs, host_.secs, va_, 0));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnimplemented);
}

TEST_F(PagingTest, EwbNeedsEblock) {
  EXPECT_SGX(QUIET(m().Ewb(kOs, data(0), va_, 0)), kPageNotBlocked);
  ASSERT_OK(m().Etrack(kOs, host_.secs));
  EXPECT_SGX(QUIET(m().Ewb(kOs, data(0), va_, 0)), kPageNotBlocked);
}

TEST_F(PagingTest, EwbNeedsEtrackAfterEblock) {
  ASSERT_OK(m().Etrack(kOs, host_.secs));  // before the EBLOCK: does not count
  ASSERT_OK(m().Eblock(kOs, data(0)));
  EXPECT_SGX(QUIET(m().Ewb(kOs, data(0), va_, 0)), kNotTracked);
  ASSERT_OK(m().Etrack(kOs, host_.secs));
  EXPECT_OK(m().Ewb(kOs, data(0), va_, 0));
}

TEST_F(PagingTest, ThreadInsideSinceBeforeEtrackBlocksEwbAndEtrack) {
  ASSERT_OK(m().Eenter(kThread, host_.tcs));
  ASSERT_OK(BlockAndTrack(data(0)));
  // The thread may still hold a TLB entry for the page.
  EXPECT_SGX(QUIET(m().Ewb(kOs, data(0), va_, 0)), kNotTracked);
  EXPECT_SGX(QUIET(m().Etrack(kOs, host_.secs)), kPrevTrkIncmpl);
  // It leaves (e.g. AEX on the OS's IPI); the tracking cycle completes.
  ASSERT_OK(m().Aex(kThread));
  EXPECT_OK(m().Ewb(kOs, data(0), va_, 0));
}

TEST_F(PagingTest, ThreadEnteredAfterEtrackDoesNotBlockEwb) {
  ASSERT_OK(BlockAndTrack(data(0)));
  ASSERT_OK(m().Eenter(kThread, host_.tcs));
  EXPECT_OK(m().Ewb(kOs, data(0), va_, 0));
}

TEST_F(PagingTest, EwbToInvalidVaPageFaultsPf) {
  ASSERT_OK(BlockAndTrack(data(0)));
  const EpcPage free_page = Free();
  EXPECT_PF_AT(QUIET(m().Ewb(kOs, data(0), free_page, 0)), Epc::Address(free_page));
  EXPECT_PF_AT(QUIET(m().Ewb(kOs, data(0), data(1), 0)), Epc::Address(data(1)));
  EXPECT_PF_AT(QUIET(m().Ewb(kOs, data(0), kEpcPages, 0)), Epc::Address(kEpcPages));
  EXPECT_TRUE(m().Epcm(data(0)).valid);
}

TEST_F(PagingTest, EwbToSlotOutOfRangeFaultsGp) {
  ASSERT_OK(BlockAndTrack(data(0)));
  EXPECT_GP(QUIET(m().Ewb(kOs, data(0), va_, 512)));
  EXPECT_OK(m().Ewb(kOs, data(0), va_, 511));
}

TEST_F(PagingTest, EwbToOccupiedSlotIsVaSlotOccupied) {
  ASSERT_OK(Evict(m(), kOs, host_.secs, data(0), va_, 3));
  ASSERT_OK(BlockAndTrack(data(1)));
  EXPECT_SGX(QUIET(m().Ewb(kOs, data(1), va_, 3)), kVaSlotOccupied);
  EXPECT_TRUE(m().Epcm(data(1)).valid);
  EXPECT_OK(m().Ewb(kOs, data(1), va_, 4));
}

// ---- ELDU / ELDB ------------------------------------------------------------------

TEST_F(PagingTest, ElduRestoresBytesAndEpcmExactly) {
  // Give the page some state first: new bytes, an EMODPR pending EACCEPT.
  ASSERT_OK(m().Eenter(kThread, host_.tcs));
  const uint8_t msg[5] = {'h', 'e', 'l', 'l', 'o'};
  ASSERT_OK(m().Write(kThread, host_.addr(2) + 1000, msg));
  ASSERT_OK(m().Eexit(kThread));
  ASSERT_OK(m().Emodpr(kOs, SecInfo::Make(PageType::kReg, secinfo::kR), data(2)));
  const EpcmEntry before = m().Epcm(data(2));
  Page bytes;
  std::copy_n(m().PageBytes(data(2)).begin(), kPageSize, bytes.begin());

  auto blob = Evict(m(), kOs, host_.secs, data(2), va_, 9);
  ASSERT_OK(blob);
  const EpcPage dest = Free();
  const uint32_t free_before = m().FreePageCount();
  ASSERT_TRUE(Charged(
      kOs, I::kEldu, [&] { return m().Eldu(kOs, *blob, host_.secs, dest, va_, 9); }, host_.secs));
  EXPECT_TRUE(SameEpcm(m().Epcm(dest), before, /*compare_blocked=*/true));
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), m().PageBytes(dest).begin()));
  EXPECT_EQ(Slot(va_, 9), 0u);
  EXPECT_EQ(m().FreePageCount(), free_before - 1);
  EXPECT_EQ(m().StatsOf(host_.secs)->events.pages_reloaded, 1u);
  EXPECT_EQ(m().Counters().events.pages_reloaded, 1u);
  // The page is usable at its address again.
  ASSERT_OK(m().Eenter(kThread, host_.tcs));
  uint8_t got[5];
  ASSERT_OK(m().Read(kThread, host_.addr(2) + 1000, got));
  EXPECT_TRUE(std::equal(msg, msg + 5, got));
}

TEST_F(PagingTest, ElduRestoresPendingAndModifiedPages) {
  const uint64_t aug_addr = host_.addr(30);
  const EpcPage aug = Free();
  ASSERT_OK(m().Eaug(kOs, host_.secs, aug_addr, aug));
  ASSERT_OK(m().Emodt(kOs, SecInfo::Make(PageType::kTrim, 0), data(0)));
  for (EpcPage p : {aug, data(0)}) {
    const EpcmEntry before = m().Epcm(p);
    auto blob = Evict(m(), kOs, host_.secs, p, va_, 0);
    ASSERT_OK(blob);
    const EpcPage dest = Free();
    ASSERT_OK(m().Eldu(kOs, *blob, host_.secs, dest, va_, 0));
    EXPECT_TRUE(SameEpcm(m().Epcm(dest), before, true));
  }
}

TEST_F(PagingTest, EldbLoadsBlocked) {
  const EpcmEntry before = m().Epcm(data(0));
  auto blob = Evict(m(), kOs, host_.secs, data(0), va_, 0);
  ASSERT_OK(blob);
  const EpcPage dest = Free();
  ASSERT_TRUE(Charged(
      kOs, I::kEldb, [&] { return m().Eldb(kOs, *blob, host_.secs, dest, va_, 0); }, host_.secs));
  EXPECT_TRUE(SameEpcm(m().Epcm(dest), before, false));
  EXPECT_TRUE(m().Epcm(dest).blocked);
  ASSERT_OK(m().Eenter(kThread, host_.tcs));
  uint8_t x;
  EXPECT_PF(m().Read(kThread, host_.addr(0), {&x, 1}));
  ASSERT_OK(m().Eexit(kThread));
  // Blocked since the load: a fresh ETRACK makes it evictable again.
  EXPECT_SGX(m().Ewb(kOs, dest, va_, 1), kNotTracked);
  ASSERT_OK(m().Etrack(kOs, host_.secs));
  EXPECT_OK(m().Ewb(kOs, dest, va_, 1));
}

class ElduFailTest : public PagingTest {
 protected:
  void SetUp() override {
    PagingTest::SetUp();
    auto b = Evict(m(), kOs, host_.secs, data(0), va_, 5);
    ASSERT_OK(b);
    blob_ = *b;
    dest_ = Free();
  }
  Status Load(const EvictedPage& blob, uint32_t slot = 5) {
    return m().Eldu(kOs, blob, host_.secs, dest_, va_, slot);
  }
  EvictedPage blob_;
  EpcPage dest_ = 0;
};

TEST_F(ElduFailTest, DestinationInUseFaultsPf) {
  EXPECT_PF_AT(QUIET(m().Eldu(kOs, blob_, host_.secs, data(1), va_, 5)), Epc::Address(data(1)));
  EXPECT_PF_AT(QUIET(m().Eldu(kOs, blob_, host_.secs, kEpcPages, va_, 5)), Epc::Address(kEpcPages));
  EXPECT_OK(Load(blob_));
}

TEST_F(ElduFailTest, ReservedSecinfoBitsFaultGp) {
  EvictedPage b = blob_;
  b.secinfo.flags |= 1ull << 40;
  EXPECT_GP(QUIET(Load(b)));
}

TEST_F(ElduFailTest, NonSecsFaultsPf) {
  EXPECT_PF_AT(QUIET(m().Eldu(kOs, blob_, data(1), dest_, va_, 5)), Epc::Address(data(1)));
}

TEST_F(ElduFailTest, BadVaPageFaultsPf) {
  EXPECT_PF_AT(QUIET(m().Eldu(kOs, blob_, host_.secs, dest_, data(1), 5)), Epc::Address(data(1)));
}

TEST_F(ElduFailTest, SlotOutOfRangeFaultsGp) { EXPECT_GP(QUIET(Load(blob_, 512))); }

TEST_F(ElduFailTest, EmptyOrWrongSlotIsMacCompareFail) {
  EXPECT_SGX(QUIET(Load(blob_, 6)), kMacCompareFail);
  // A slot holding another page's version.
  ASSERT_OK(Evict(m(), kOs, host_.secs, data(1), va_, 6));
  EXPECT_SGX(QUIET(Load(blob_, 6)), kMacCompareFail);
  EXPECT_OK(Load(blob_, 5));
}

TEST_F(ElduFailTest, TamperedBlobIsMacCompareFail) {
  std::vector<std::pair<const char*, std::function<void(EvictedPage&)>>> tampers = {
      {"ciphertext", [](EvictedPage& b) { b.ciphertext[100] ^= 1; }},
      {"mac", [](EvictedPage& b) { b.mac[0] ^= 1; }},
      {"linaddr", [](EvictedPage& b) { b.linaddr += kPageSize; }},
      {"secinfo perms", [](EvictedPage& b) { b.secinfo.flags |= secinfo::kX; }},
      {"secinfo type", [](EvictedPage& b) { b.secinfo = SecInfo::Make(PageType::kTcs, 0); }},
      {"enclave id", [](EvictedPage& b) { b.enclave_id += 1; }},
  };
  for (auto& [what, tamper] : tampers) {
    SCOPED_TRACE(what);
    EvictedPage b = blob_;
    tamper(b);
    EXPECT_SGX(QUIET(Load(b)), kMacCompareFail);
  }
  EXPECT_OK(Load(blob_));
}

TEST_F(ElduFailTest, CiphertextOfWrongLengthIsMacCompareFail) {
  // Full mode seals 4096 bytes; anything else is not what EWB wrote.
  for (size_t n : {size_t{0}, size_t{1}, kPageSize - 1, kPageSize + 1}) {
    SCOPED_TRACE(n);
    EvictedPage b = blob_;
    b.ciphertext.resize(n);
    EXPECT_SGX(QUIET(Load(b)), kMacCompareFail);
  }
  EXPECT_OK(Load(blob_));
}

TEST_F(ElduFailTest, LoadingTwiceIsMacCompareFail) {
  ASSERT_OK(Load(blob_));
  const EpcPage other = Free();
  EXPECT_SGX(QUIET(m().Eldu(kOs, blob_, host_.secs, other, va_, 5)), kMacCompareFail);
  EXPECT_SGX(QUIET(m().Eldb(kOs, blob_, host_.secs, other, va_, 5)), kMacCompareFail);
}

TEST_F(ElduFailTest, ReplayOfOlderBlobIsMacCompareFail) {
  ASSERT_OK(Load(blob_));
  // Evict the same page again, into the same slot: a newer version.
  auto newer = Evict(m(), kOs, host_.secs, dest_, va_, 5);
  ASSERT_OK(newer);
  const EpcPage other = Free();
  EXPECT_SGX(QUIET(m().Eldu(kOs, blob_, host_.secs, other, va_, 5)), kMacCompareFail);
  EXPECT_OK(m().Eldu(kOs, *newer, host_.secs, other, va_, 5));
}

TEST_F(ElduFailTest, BlobOfAnotherEnclaveIsMacCompareFail) {
  // Same layout, same linear addresses: only the enclave differs.
  Built other = Build({.base = 2 * kHostBase, .pages = 3});
  EvictedPage b = blob_;
  b.linaddr = other.addr(0);
  EXPECT_SGX(QUIET(m().Eldu(kOs, blob_, other.secs, dest_, va_, 5)), kMacCompareFail);
  EXPECT_SGX(QUIET(m().Eldu(kOs, b, other.secs, dest_, va_, 5)), kMacCompareFail);
  // A recreated enclave on the same SECS page is another enclave too.
  for (auto [addr, page] : host_.page_at) {
    if (page != data(0)) {
      ASSERT_OK(m().Eremove(kOs, page));
    }
  }
  ASSERT_OK(m().Eremove(kOs, host_.secs));
  ASSERT_OK(m().Ecreate(kOs, host_.secs_value, host_.secs));
  EXPECT_SGX(QUIET(Load(blob_)), kMacCompareFail);
}

TEST_F(ElduFailTest, SlotClearedByVaRemovalIsMacCompareFail) {
  ASSERT_OK(m().Eremove(kOs, va_));
  ASSERT_OK(m().Epa(kOs, va_));
  EXPECT_SGX(QUIET(Load(blob_)), kMacCompareFail);
}

// ---- Evicting TCS pages ------------------------------------------------------------

TEST_F(PagingTest, EvictedTcsKeepsItsThreadState) {
  // CSSA lives in the TCS: an AEX'd thread can resume after its TCS went
  // out and came back in another EPC page.
  ASSERT_OK(m().Eenter(kThread, host_.tcs));
  ASSERT_OK(m().Aex(kThread));
  auto blob = Evict(m(), kOs, host_.secs, host_.tcs, va_, 0);
  ASSERT_OK(blob);
  const EpcPage dest = Free();
  ASSERT_OK(m().Eldu(kOs, *blob, host_.secs, dest, va_, 0));
  EXPECT_EQ(m().Epcm(dest).type, PageType::kTcs);
  EXPECT_OK(m().Eresume(kThread, dest));
  ASSERT_OK(m().Eexit(kThread));
  // NSSA survived too: two AEXes fit (NSSA = 2), a third EENTER does not.
  ASSERT_OK(m().Eenter(kThread, dest));
  ASSERT_OK(m().Aex(kThread));
  ASSERT_OK(m().Eenter(kThread, dest));
  ASSERT_OK(m().Aex(kThread));
  EXPECT_GP(m().Eenter(kThread, dest));
}

TEST_F(PagingTest, BlockedTcsCannotBeEntered) {
  // A blocked page gets no new translations: EENTER on a blocked TCS faults,
  // so a TCS cannot be evicted under a running thread.
  ASSERT_OK(m().Eblock(kOs, host_.tcs));
  ASSERT_OK(m().Etrack(kOs, host_.secs));
  EXPECT_PF_AT(QUIET(m().Eenter(kThread, host_.tcs)), Epc::Address(host_.tcs));
  EXPECT_OK(m().Ewb(kOs, host_.tcs, va_, 0));
}

}  // namespace
}  // namespace confide::machine::testing
