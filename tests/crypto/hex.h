// hex.h — hex literals for known-answer tests.
#pragma once

#include <algorithm>
#include <array>
#include <cstring>
#include <string_view>

#include <gtest/gtest.h>

#include "base/bytes.h"

namespace confide::crypto::testutil {

// The bytes of `hex`; an empty vector (and a test failure) if it is not hex.
inline Bytes Hex(std::string_view hex) {
  auto bytes = FromHex(hex);
  EXPECT_TRUE(bytes.ok()) << hex;
  return bytes.ok() ? *bytes : Bytes{};
}

// `hex` as a fixed-size array; a test failure if the length differs.
template <size_t N>
std::array<uint8_t, N> HexArray(std::string_view hex) {
  Bytes bytes = Hex(hex);
  std::array<uint8_t, N> out{};
  EXPECT_EQ(bytes.size(), N) << hex;
  std::memcpy(out.data(), bytes.data(), std::min(N, bytes.size()));
  return out;
}

}  // namespace confide::crypto::testutil
