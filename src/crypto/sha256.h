// sha256.h — incremental SHA-256 (FIPS 180-4) over OpenSSL 3.
//
// Sha256 is a value: copying it snapshots the running hash, which is how the
// enclave machine keeps MRENCLAVE in progress and how a parallel measurement
// forks and merges (EnTurbo). The context lives inline (no allocation), so the
// measurement hot path (EADD/EEXTEND) costs no more than the hashing itself.
//
// Usage:
//   Sha256 h;
//   h.Update(header);
//   h.Update(page);
//   Sha256Digest d = h.Finish();
//
// Thread-safety: a Sha256 object is not shared between threads; distinct
// objects are independent.
#pragma once

#include <array>
#include <cstdint>

#include "base/bytes.h"

namespace confide::crypto {

using Sha256Digest = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  Sha256(const Sha256&) = default;
  Sha256& operator=(const Sha256&) = default;

  void Update(ByteSpan data);
  // Returns the digest of everything passed to Update. The object is then
  // spent: call Reset() before reusing it.
  Sha256Digest Finish();
  void Reset();

 private:
  // OpenSSL's SHA256_CTX, stored inline; sha256.cc checks the size.
  alignas(8) uint8_t ctx_[112];
};

Sha256Digest Sha256Of(ByteSpan data);

}  // namespace confide::crypto
