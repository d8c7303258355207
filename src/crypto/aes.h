// aes.h — AES-128-CMAC (NIST SP 800-38B, RFC 4493) and AES-GCM (SP 800-38D).
//
// CMAC is what SGX uses for REPORT MACs and key derivation; GCM seals evicted
// EPC pages (EWB) and payloads. Both over OpenSSL 3.
//
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstdint>

#include "base/bytes.h"
#include "base/status.h"

namespace confide::crypto {

using Aes128Key = std::array<uint8_t, 16>;
using Mac128 = std::array<uint8_t, 16>;
using GcmTag = std::array<uint8_t, 16>;
inline constexpr size_t kGcmIvSize = 12;

// AES-128-CMAC of `message` under `key`.
Mac128 AesCmac128(const Aes128Key& key, ByteSpan message);

// AES-GCM encryption. `key` is 16 or 32 bytes (AES-128/256), `iv` 12 bytes.
// REQUIRES: ciphertext.size() == plaintext.size() (may alias plaintext).
Status AesGcmEncrypt(ByteSpan key, ByteSpan iv, ByteSpan aad, ByteSpan plaintext,
                     MutableByteSpan ciphertext, GcmTag* tag);

// AES-GCM decryption; PermissionDeniedError if the tag does not verify, in
// which case `plaintext` is zeroed (no unauthenticated bytes escape).
// REQUIRES: plaintext.size() == ciphertext.size() (may alias ciphertext).
Status AesGcmDecrypt(ByteSpan key, ByteSpan iv, ByteSpan aad, ByteSpan ciphertext,
                     const GcmTag& tag, MutableByteSpan plaintext);

}  // namespace confide::crypto
