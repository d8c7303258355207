// bytes.h — byte buffers, little-endian fields and hex, as SGX structures need.
//
// SGX structures (SECS, SIGSTRUCT, REPORT, ...) are little-endian byte layouts
// with fixed offsets; confide reads and writes them field by field with these
// helpers instead of reinterpret_cast on packed structs.
//
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <bit>
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

// x86-64 is little-endian, so a field is one unaligned load or store; the
// measurement records of every EADD/EEXTEND are built with these.
static_assert(std::endian::native == std::endian::little, "confide assumes a little-endian host");

template <typename T>
inline T LoadLe(const uint8_t* p) {
  static_assert(std::is_unsigned_v<T>);
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T>
inline void StoreLe(uint8_t* p, T v) {
  static_assert(std::is_unsigned_v<T>);
  std::memcpy(p, &v, sizeof v);
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
