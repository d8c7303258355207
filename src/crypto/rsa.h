// rsa.h — RSA-3072 with public exponent 3, as SGX's SIGSTRUCT requires
// (Intel SDM Vol. 3D §38.13: RSA-3072, e = 3, PKCS#1 v1.5 with SHA-256).
//
// All big numbers here are BIG-endian byte strings, as in PKCS#1; SIGSTRUCT
// stores them little-endian, and the sigstruct code reverses them.
//
// Thread-safety: Rsa3072PrivateKey is immutable after creation and may be used
// from several threads; the free functions are pure.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"

namespace confide::crypto {

inline constexpr size_t kRsa3072Bytes = 384;
using Rsa3072Block = std::array<uint8_t, kRsa3072Bytes>;  // big-endian

class Rsa3072PrivateKey {
 public:
  // A fresh key with e = 3.
  static StatusOr<Rsa3072PrivateKey> Generate();
  // Parses a PEM private key (PKCS#1 or PKCS#8). InvalidArgumentError unless
  // it is RSA with a 3072-bit modulus and e = 3.
  static StatusOr<Rsa3072PrivateKey> FromPem(std::string_view pem);

  Rsa3072PrivateKey(Rsa3072PrivateKey&&) noexcept;
  Rsa3072PrivateKey& operator=(Rsa3072PrivateKey&&) noexcept;
  ~Rsa3072PrivateKey();

  // PKCS#8 PEM of the private key. Contains the secret: write it only to files
  // with mode 0600, never to logs.
  std::string ToPem() const;
  Rsa3072Block Modulus() const;  // big-endian
  uint32_t Exponent() const;     // always 3
  // PKCS#1 v1.5 signature with SHA-256 over `message`, big-endian.
  StatusOr<Rsa3072Block> Sign(ByteSpan message) const;

 private:
  struct Impl;
  explicit Rsa3072PrivateKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Verifies a PKCS#1 v1.5 SHA-256 signature; PermissionDeniedError if it does
// not verify, InvalidArgumentError if the key is malformed.
Status Rsa3072Verify(const Rsa3072Block& modulus, uint32_t exponent, ByteSpan message,
                     const Rsa3072Block& signature);

// SIGSTRUCT's Q1 = floor(s^2 / n) and Q2 = floor((s^3 - q1*s*n) / n), which let
// EINIT verify the signature without a divider (SDM Vol. 3D Table 38-19).
// Big-endian in and out.
struct RsaQ1Q2 {
  Rsa3072Block q1{};
  Rsa3072Block q2{};
};
RsaQ1Q2 ComputeQ1Q2(const Rsa3072Block& signature, const Rsa3072Block& modulus);

}  // namespace confide::crypto
