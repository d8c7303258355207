// x25519.h — X25519 key agreement (RFC 7748) and HKDF-SHA256 (RFC 5869), for
// the channels that carry payloads and keys to attested enclaves.
//
// Thread-safety: pure functions.
#pragma once

#include <array>

#include "base/bytes.h"
#include "base/status.h"

namespace confide::crypto {

using X25519Key = std::array<uint8_t, 32>;

struct X25519KeyPair {
  X25519Key private_key{};  // secret: never log
  X25519Key public_key{};
};

StatusOr<X25519KeyPair> X25519Generate();
// The public key of `private_key`.
StatusOr<X25519Key> X25519PublicFromPrivate(const X25519Key& private_key);
// The shared secret; InvalidArgumentError if it is all zero (a low-order
// peer key, RFC 7748 §6.1).
StatusOr<X25519Key> X25519Agree(const X25519Key& private_key, const X25519Key& peer_public);

// HKDF-SHA256 extract-and-expand; InvalidArgumentError if length > 255*32.
StatusOr<Bytes> HkdfSha256(ByteSpan ikm, ByteSpan salt, ByteSpan info, size_t length);

}  // namespace confide::crypto
