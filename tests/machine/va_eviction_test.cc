// EWB and ELDU/ELDB of VA pages (paging.cc): a VA page's slots are sealed like
// any page's bytes, its version goes into a slot of another resident VA page,
// and it comes back as a PT_VA page — at any free EPC page — from which the
// pages whose versions it holds load again. Needed because evicting 16 Mi
// pages needs 32 Ki VA pages, more than a 94 MiB EPC holds.
#include <gtest/gtest.h>

#include <algorithm>
#include <initializer_list>

#include "test_util.h"

namespace confide::machine::testing {
namespace {

using I = Instruction;
constexpr CoreId kOs = 0;

class VaEvictionTest : public MachineTest {
 protected:
  void SetUp() override {
    MachineTest::SetUp();
    host_ = BuildHost(3);
    va_ = NewVa();
    outer_ = NewVa();
    // A page whose version lives in va_ slot 3.
    auto b = Evict(m(), kOs, host_.secs, host_.data_pages[0], va_, 3);
    ASSERT_OK(b);
    page_blob_ = *b;
  }
  uint64_t Slot(EpcPage va, uint32_t slot) {
    return LoadLe<uint64_t>(m().PageBytes(va).data() + 8 * slot);
  }
  Page Bytes(EpcPage p) {
    Page b;
    std::copy_n(m().PageBytes(p).begin(), kPageSize, b.begin());
    return b;
  }

  Built host_;
  EpcPage va_ = 0;     // holds the version of page_blob_ in slot 3
  EpcPage outer_ = 0;  // where va_'s own version goes
  EvictedPage page_blob_;
};

TEST_F(VaEvictionTest, EvictedVaPageComesBackElsewhereWithItsVersions) {
  const Page va_bytes = Bytes(va_);
  ASSERT_NE(LoadLe<uint64_t>(va_bytes.data() + 3 * 8), 0u);
  const uint32_t free_before = m().FreePageCount();
  StatusOr<EvictedPage> va_blob;
  // No EBLOCK or ETRACK: VA pages are never mapped, so never tracked.
  ASSERT_TRUE(Charged(kOs, I::kEwb, [&] {
    va_blob = m().Ewb(kOs, va_, outer_, 9);
    return va_blob.status();
  }));
  EXPECT_EQ(va_blob->ciphertext.size(), kPageSize);
  EXPECT_EQ(va_blob->secinfo.page_type(), PageType::kVa);
  EXPECT_EQ(va_blob->enclave_id, 0u);
  EXPECT_EQ(va_blob->linaddr, 0u);
  EXPECT_FALSE(std::equal(va_bytes.begin(), va_bytes.end(), va_blob->ciphertext.begin()));
  EXPECT_FALSE(m().Epcm(va_).valid);
  EXPECT_EQ(m().FreePageCount(), free_before + 1);
  EXPECT_NE(Slot(outer_, 9), 0u);
  EXPECT_EQ(m().Counters().events.pages_evicted, 2u);

  // Free pages chosen here, not by Free(): that helper may hand out a page it
  // handed out before and nobody claimed (va_, freed last, or dest).
  auto free_except = [&](std::initializer_list<EpcPage> taken) {
    for (EpcPage p = 0; p < m().epc_pages(); ++p) {
      if (!m().Epcm(p).valid && std::find(taken.begin(), taken.end(), p) == taken.end()) return p;
    }
    ADD_FAILURE() << "no free EPC page";
    return EpcPage{0};
  };
  // While it is out, the page whose version it holds cannot load.
  const EpcPage dest = free_except({va_});
  EXPECT_PF_AT(QUIET(m().Eldu(kOs, page_blob_, host_.secs, dest, va_, 3)), Epc::Address(va_));

  // Back, at another EPC page (va_ itself is taken meanwhile). PAGEINFO.SECS
  // is not used for a VA page: any value will do.
  ASSERT_OK(m().Epa(kOs, va_));
  const EpcPage va_new = free_except({va_, dest});
  ASSERT_NE(va_new, va_);
  ASSERT_TRUE(Charged(kOs, I::kEldu,
                      [&] { return m().Eldu(kOs, *va_blob, /*secs=*/12345, va_new, outer_, 9); }));
  EXPECT_TRUE(SameEpcm(m().Epcm(va_new), EpcmEntry{.valid = true, .type = PageType::kVa}, true));
  EXPECT_EQ(Bytes(va_new), va_bytes);
  EXPECT_EQ(Slot(outer_, 9), 0u);
  EXPECT_EQ(m().Counters().events.pages_reloaded, 1u);

  // The page whose version it holds now loads from the new VA page; once.
  ASSERT_OK(m().Eldu(kOs, page_blob_, host_.secs, dest, va_new, 3));
  EXPECT_EQ(Bytes(dest), PatternPage(1, 0));
  EXPECT_EQ(Slot(va_new, 3), 0u);
  EXPECT_SGX(QUIET(m().Eldu(kOs, page_blob_, host_.secs, Free(), va_new, 3)), kMacCompareFail);
  // And the VA page's blob does not load twice either.
  EXPECT_SGX(QUIET(m().Eldu(kOs, *va_blob, 0, Free(), outer_, 9)), kMacCompareFail);
}

TEST_F(VaEvictionTest, TamperedVaBlobIsMacCompareFail) {
  const EpcPage dest = Free();
  // A regular page's blob relabelled as a VA page fails.
  EvictedPage relabelled = page_blob_;
  relabelled.secinfo = SecInfo::Make(PageType::kVa, 0);
  EXPECT_SGX(QUIET(m().Eldu(kOs, relabelled, 0, dest, va_, 3)), kMacCompareFail);
  auto va_blob = m().Ewb(kOs, va_, outer_, 9);
  ASSERT_OK(va_blob);
  std::vector<std::pair<const char*, std::function<void(EvictedPage&)>>> tampers = {
      {"a version", [](EvictedPage& b) { b.ciphertext[3 * 8] ^= 1; }},
      {"mac", [](EvictedPage& b) { b.mac[15] ^= 1; }},
      {"linaddr", [](EvictedPage& b) { b.linaddr = kPageSize; }},
      {"enclave id", [](EvictedPage& b) { b.enclave_id = 1; }},
      {"secinfo", [](EvictedPage& b) { b.secinfo.flags |= secinfo::kR; }},
      {"truncated", [](EvictedPage& b) { b.ciphertext.resize(kPageSize - 8); }},
      {"empty", [](EvictedPage& b) { b.ciphertext.clear(); }},
  };
  for (auto& [what, tamper] : tampers) {
    SCOPED_TRACE(what);
    EvictedPage b = *va_blob;
    tamper(b);
    EXPECT_SGX(QUIET(m().Eldu(kOs, b, 0, dest, outer_, 9)), kMacCompareFail);
  }
  EXPECT_OK(m().Eldu(kOs, *va_blob, 0, dest, outer_, 9));
}

TEST_F(VaEvictionTest, EwbChecks) {
  // Not into itself.
  EXPECT_GP(QUIET(m().Ewb(kOs, va_, va_, 10)));
  // The destination is a VA page with a free slot in range.
  EXPECT_PF_AT(QUIET(m().Ewb(kOs, va_, host_.data_pages[1], 0)), Epc::Address(host_.data_pages[1]));
  EXPECT_GP(QUIET(m().Ewb(kOs, va_, outer_, 512)));
  auto other = Evict(m(), kOs, host_.secs, host_.data_pages[1], outer_, 0);
  ASSERT_OK(other);
  EXPECT_SGX(QUIET(m().Ewb(kOs, va_, outer_, 0)), kVaSlotOccupied);
  // Nothing moved.
  EXPECT_TRUE(m().Epcm(va_).valid);
  EXPECT_NE(Slot(va_, 3), 0u);
  // EBLOCK refuses VA pages, and EWB does not need it.
  EXPECT_SGX(QUIET(m().Eblock(kOs, va_)), kNotBlockable);
  EXPECT_OK(m().Ewb(kOs, va_, outer_, 1));
}

TEST_F(VaEvictionTest, EldbLoadsAVaPageThatStillWorks) {
  auto va_blob = m().Ewb(kOs, va_, outer_, 9);
  ASSERT_OK(va_blob);
  const EpcPage va_new = Free();
  ASSERT_TRUE(
      Charged(kOs, I::kEldb, [&] { return m().Eldb(kOs, *va_blob, 0, va_new, outer_, 9); }));
  EXPECT_EQ(m().Epcm(va_new).type, PageType::kVa);
  EXPECT_TRUE(m().Epcm(va_new).blocked);  // as ELDB says; it means nothing for VA pages
  ASSERT_OK(m().Eldu(kOs, page_blob_, host_.secs, Free(), va_new, 3));
  ASSERT_OK(Evict(m(), kOs, host_.secs, host_.data_pages[1], va_new, 4));
}

// A tree of versions: page -> va_ -> outer_ -> root. Loads go top down.
TEST_F(VaEvictionTest, NestedVaPagesLoadTopDown) {
  const EpcPage root = NewVa();
  auto va_blob = m().Ewb(kOs, va_, outer_, 1);
  ASSERT_OK(va_blob);
  auto outer_blob = m().Ewb(kOs, outer_, root, 2);
  ASSERT_OK(outer_blob);
  const EpcPage outer_new = Free();
  // va_ cannot come back before outer_ does.
  EXPECT_PF(QUIET(m().Eldu(kOs, *va_blob, 0, outer_new, outer_, 1)));
  ASSERT_OK(m().Eldu(kOs, *outer_blob, 0, outer_new, root, 2));
  const EpcPage va_new = Free();
  ASSERT_OK(m().Eldu(kOs, *va_blob, 0, va_new, outer_new, 1));
  const EpcPage dest = Free();
  ASSERT_OK(m().Eldu(kOs, page_blob_, host_.secs, dest, va_new, 3));
  EXPECT_EQ(m().Epcm(dest).linaddr, host_.addr(0));
}

TEST_F(VaEvictionTest, EremoveOfAnEvictedVaPagesOldPageIsTrivial) {
  ASSERT_OK(m().Ewb(kOs, va_, outer_, 9));
  const uint32_t free_before = m().FreePageCount();
  EXPECT_OK(m().Eremove(kOs, va_));  // a free page
  EXPECT_EQ(m().FreePageCount(), free_before);
}

TEST(VaEvictionCostOnlyTest, VaPagesKeepTheirBytesInCostOnlyMode) {
  auto m = MakeMachine(64, kRootSecret, 4, PageContents::kCostOnly);
  auto host = BuildEnclave(*m, {.pages = 2});
  ASSERT_OK(host);
  const EpcPage va = *m->FindFreePage();
  ASSERT_OK(m->Epa(kOs, va));
  const EpcPage outer = *m->FindFreePage();
  ASSERT_OK(m->Epa(kOs, outer));
  auto page_blob = Evict(*m, kOs, host->secs, host->data_pages[0], va, 6);
  ASSERT_OK(page_blob);
  EXPECT_TRUE(page_blob->ciphertext.empty());
  auto va_blob = m->Ewb(kOs, va, outer, 0);
  ASSERT_OK(va_blob);
  EXPECT_EQ(va_blob->ciphertext.size(), kPageSize);
  const EpcPage va_new = *m->FindFreePage();
  ASSERT_OK(m->Eldu(kOs, *va_blob, 0, va_new, outer, 0));
  ASSERT_OK(m->Eldu(kOs, *page_blob, host->secs, *m->FindFreePage(), va_new, 6));
  EXPECT_SGX(m->Eldu(kOs, *page_blob, host->secs, *m->FindFreePage(), va_new, 6), kMacCompareFail);
}

}  // namespace
}  // namespace confide::machine::testing
