// ecdsa.h — ECDSA over NIST P-256 with SHA-256 (FIPS 186-4), for quotes in the
// DCAP v3 layout (attestation layer). Keys and signatures use the raw layouts
// DCAP uses: public key = X || Y (64 bytes), signature = R || S (64 bytes),
// each coordinate 32 bytes big-endian.
//
// Thread-safety: EcdsaP256PrivateKey is immutable after creation and may be
// shared; free functions are pure.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"

namespace confide::crypto {

using EcdsaP256PublicKey = std::array<uint8_t, 64>;  // X || Y
using EcdsaP256Signature = std::array<uint8_t, 64>;  // R || S

class EcdsaP256PrivateKey {
 public:
  static StatusOr<EcdsaP256PrivateKey> Generate();
  // PEM (SEC1 or PKCS#8); InvalidArgumentError unless it is a P-256 key.
  static StatusOr<EcdsaP256PrivateKey> FromPem(std::string_view pem);
  // The key whose private scalar is `d` (32 bytes big-endian).
  static StatusOr<EcdsaP256PrivateKey> FromScalar(ByteSpan d);

  EcdsaP256PrivateKey(EcdsaP256PrivateKey&&) noexcept;
  EcdsaP256PrivateKey& operator=(EcdsaP256PrivateKey&&) noexcept;
  ~EcdsaP256PrivateKey();

  std::string ToPem() const;  // secret: never log
  EcdsaP256PublicKey PublicKey() const;
  StatusOr<EcdsaP256Signature> Sign(ByteSpan message) const;

 private:
  struct Impl;
  explicit EcdsaP256PrivateKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// PermissionDeniedError if the signature does not verify; InvalidArgumentError
// if the public key is not a point on P-256.
Status EcdsaP256Verify(const EcdsaP256PublicKey& public_key, ByteSpan message,
                       const EcdsaP256Signature& signature);

}  // namespace confide::crypto
