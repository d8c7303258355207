// Memory accesses by enclave code: Read, Write and Translate with the EPCM
// checks of access.cc (the PIE shared-page and copy-on-write cases are in
// pie_test.cc).
#include <gtest/gtest.h>

#include "test_util.h"

namespace confide::machine::testing {
namespace {

constexpr CoreId kOs = 0;
constexpr CoreId kThread = 1;

class AccessTest : public MachineTest {
 protected:
  void SetUp() override {
    MachineTest::SetUp();
    host_ = BuildHost(3);
  }
  void Enter() { ASSERT_OK(m().Eenter(kThread, host_.tcs)); }
  Built host_;
};

TEST_F(AccessTest, ReadReturnsPageBytes) {
  Enter();
  std::array<uint8_t, 100> out;
  ASSERT_OK(m().Read(kThread, host_.addr(1) + 50, out));
  const Page want = PatternPage(1, 1);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), want.begin() + 50));
}

TEST_F(AccessTest, ZeroLengthAccessSucceeds) {
  Enter();
  EXPECT_OK(m().Read(kThread, host_.addr(0), {}));
  EXPECT_OK(m().Write(kThread, host_.addr(0), {}));
}

TEST_F(AccessTest, WriteAndReadAcrossPageBoundary) {
  Enter();
  std::array<uint8_t, 300> data;
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 3);
  const uint64_t addr = host_.addr(1) - 100;  // 100 bytes in page 0, 200 in page 1
  ASSERT_OK(m().Write(kThread, addr, data));
  std::array<uint8_t, 300> back;
  ASSERT_OK(m().Read(kThread, addr, back));
  EXPECT_EQ(back, data);
  EXPECT_TRUE(std::equal(data.begin(), data.begin() + 100,
                         m().PageBytes(host_.data_pages[0]).begin() + kPageSize - 100));
  EXPECT_TRUE(
      std::equal(data.begin() + 100, data.end(), m().PageBytes(host_.data_pages[1]).begin()));
}

TEST_F(AccessTest, AccessIsNotCharged) {
  Enter();
  SyncClocks();
  const uint64_t before = m().CoreCycles(kThread);
  uint8_t x = 0;
  ASSERT_OK(m().Read(kThread, host_.addr(0), {&x, 1}));
  ASSERT_OK(m().Write(kThread, host_.addr(0), {&x, 1}));
  EXPECT_EQ(m().CoreCycles(kThread), before);
}

TEST_F(AccessTest, ReadOutsideElrangeFaultsPf) {
  Enter();
  uint8_t x;
  EXPECT_PF_AT(m().Read(kThread, kHostBase - 1, {&x, 1}), kHostBase - 1);
  EXPECT_PF_AT(m().Read(kThread, kHostBase + kHostSize, {&x, 1}), kHostBase + kHostSize);
  EXPECT_PF_AT(m().Translate(kThread, kHostBase + kHostSize).status(), kHostBase + kHostSize);
}

TEST_F(AccessTest, ReadOfAbsentPageFaultsPfAtFirstMissingByte) {
  Enter();
  uint8_t x;
  EXPECT_PF_AT(m().Read(kThread, host_.addr(10) + 3, {&x, 1}), host_.addr(10) + 3);
  // A read that runs off the last data page faults at the next page.
  std::array<uint8_t, 64> out;
  EXPECT_PF_AT(m().Read(kThread, host_.addr(3) - 32, out), host_.addr(3));
  const uint8_t data[64] = {};
  EXPECT_PF_AT(m().Write(kThread, host_.addr(3) - 32, data), host_.addr(3));
}

TEST_F(AccessTest, TcsPageIsNotAccessible) {
  Enter();
  uint8_t x;
  EXPECT_PF_AT(m().Read(kThread, host_.tcs_addr, {&x, 1}), host_.tcs_addr);
  EXPECT_PF_AT(m().Write(kThread, host_.tcs_addr, {&x, 1}), host_.tcs_addr);
}

TEST_F(AccessTest, WriteToReadOnlyPageFaultsPf) {
  Built b = Build({.base = 2 * kHostBase, .pages = 1, .perms = secinfo::kR});
  ASSERT_OK(m().Eenter(kThread, b.tcs));
  uint8_t x = 1;
  EXPECT_OK(m().Read(kThread, b.addr(0), {&x, 1}));
  EXPECT_PF_AT(m().Write(kThread, b.addr(0) + 9, {&x, 1}), b.addr(0) + 9);
  EXPECT_EQ(m().PageBytes(b.data_pages[0])[9], PatternPage(1, 0)[9]);
}

TEST_F(AccessTest, ExecuteOnlyPageIsNotReadableOrWritable) {
  Built b = Build({.base = 2 * kHostBase, .pages = 1, .perms = secinfo::kX});
  ASSERT_OK(m().Eenter(kThread, b.tcs));
  uint8_t x = 1;
  EXPECT_PF_AT(m().Read(kThread, b.addr(0), {&x, 1}), b.addr(0));
  EXPECT_PF_AT(m().Write(kThread, b.addr(0), {&x, 1}), b.addr(0));
  auto t = m().Translate(kThread, b.addr(0));
  ASSERT_OK(t);
  EXPECT_EQ(t->perms, secinfo::kX);
}

TEST_F(AccessTest, TranslateNamesThePage) {
  Enter();
  auto t = m().Translate(kThread, host_.addr(2) + 4095);
  ASSERT_OK(t);
  EXPECT_EQ(t->page, host_.data_pages[2]);
  EXPECT_EQ(t->perms, secinfo::kR | secinfo::kW);
  EXPECT_FALSE(t->shared);
}

TEST_F(AccessTest, TrimmedPageIsNotAccessible) {
  ASSERT_OK(m().Emodt(kOs, SecInfo::Make(PageType::kTrim, 0), host_.data_pages[0]));
  Enter();
  uint8_t x;
  EXPECT_PF_AT(m().Read(kThread, host_.addr(0), {&x, 1}), host_.addr(0));
}

TEST_F(AccessTest, WritesDoNotChangeMeasurement) {
  Enter();
  const uint8_t x = 0x5a;
  ASSERT_OK(m().Write(kThread, host_.addr(0), {&x, 1}));
  EXPECT_EQ(m().SecsOf(host_.secs)->mr_enclave, host_.mrenclave);
}

}  // namespace
}  // namespace confide::machine::testing
