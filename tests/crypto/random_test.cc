#include "crypto/random.h"

#include <gtest/gtest.h>

namespace confide::crypto {
namespace {

TEST(RandomTest, FillsAndDiffers) {
  Bytes a(64), b(64);
  ASSERT_TRUE(RandomBytes(a).ok());
  ASSERT_TRUE(RandomBytes(b).ok());
  EXPECT_NE(a, Bytes(64, 0));  // chance 2^-512 of a false failure
  EXPECT_NE(a, b);
}

TEST(RandomTest, EmptyIsOk) { EXPECT_TRUE(RandomBytes({}).ok()); }

}  // namespace
}  // namespace confide::crypto
