#include "base/bytes.h"

#include <gtest/gtest.h>

namespace confide {
namespace {

TEST(BytesTest, LittleEndianRoundTrip) {
  uint8_t buf[8];
  StoreLe<uint64_t>(buf, 0x0045544145524345ull);  // "ECREATE\0"
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), 7), "ECREATE");
  EXPECT_EQ(LoadLe<uint64_t>(buf), 0x0045544145524345ull);
  StoreLe<uint16_t>(buf, 0xbeef);
  EXPECT_EQ(buf[0], 0xef);
  EXPECT_EQ(buf[1], 0xbe);
}

TEST(BytesTest, HexRoundTripAndErrors) {
  Bytes b = {0x00, 0xab, 0xff};
  EXPECT_EQ(ToHex(b), "00abff");
  EXPECT_EQ(*FromHex("00ABff"), b);
  EXPECT_FALSE(FromHex("abc").ok());
  auto bad = FromHex("zz");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("position 0"), std::string::npos);
}

TEST(BytesTest, ConstantTimeEqual) {
  Bytes a = {1, 2, 3}, b = {1, 2, 3}, c = {1, 2, 4};
  EXPECT_TRUE(ConstantTimeEqual(a, b));
  EXPECT_FALSE(ConstantTimeEqual(a, c));
  EXPECT_FALSE(ConstantTimeEqual(a, Bytes{1, 2}));
}

}  // namespace
}  // namespace confide
