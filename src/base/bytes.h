// bytes.h — byte buffers, little-endian fields and hex, as SGX structures need.
//
// SGX structures (SECS, SIGSTRUCT, REPORT, ...) are little-endian byte layouts
// with fixed offsets; confide reads and writes them field by field with these
// helpers instead of reinterpret_cast on packed structs.
//
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace confide {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;
using MutableByteSpan = std::span<uint8_t>;

inline constexpr size_t kPageSize = 4096;

template <typename T>
inline T LoadLe(const uint8_t* p) {
  static_assert(std::is_unsigned_v<T>);
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(p[i]) << (8 * i);
  return v;
}

template <typename T>
inline void StoreLe(uint8_t* p, T v) {
  static_assert(std::is_unsigned_v<T>);
  for (size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Lower-case hex of `data`.
std::string ToHex(ByteSpan data);
// Parses hex (upper or lower case, even length, no prefix).
StatusOr<Bytes> FromHex(std::string_view hex);

// Constant-time comparison of two equal-length buffers (false if lengths differ).
bool ConstantTimeEqual(ByteSpan a, ByteSpan b);

inline ByteSpan AsBytes(std::string_view s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace confide
