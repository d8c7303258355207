// RSA-3072, e = 3, PKCS#1 v1.5 + SHA-256 over OpenSSL 3's EVP_PKEY API.
#include "crypto/rsa.h"

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "crypto/openssl_util.h"

namespace confide::crypto {
namespace {

using internal::BignumPtr;
using internal::BnCtxPtr;
using internal::MdCtxPtr;
using internal::OpensslError;
using internal::ParamBldPtr;
using internal::ParamsPtr;
using internal::PkeyCtxPtr;
using internal::PkeyPtr;
using internal::ReadPrivateKeyPem;
using internal::WritePrivateKeyPem;

constexpr int kModulusBits = 3072;
constexpr uint32_t kExponent = 3;

BignumPtr BignumFrom(const Rsa3072Block& big_endian) {
  return BignumPtr(BN_bin2bn(big_endian.data(), big_endian.size(), nullptr));
}

// Checks that `pkey` is what SIGSTRUCT needs (RSA, 3072 bits, e = 3) and
// returns its modulus.
StatusOr<Rsa3072Block> CheckSgxKey(EVP_PKEY* pkey) {
  if (!EVP_PKEY_is_a(pkey, "RSA")) return InvalidArgumentError("key is not an RSA key");
  if (int bits = EVP_PKEY_get_bits(pkey); bits != kModulusBits)
    return InvalidArgumentError("RSA modulus is " + std::to_string(bits) + " bits; SGX needs 3072");
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &raw) != 1)
    return OpensslError(ErrorCode::kInvalidArgument, "reading the RSA public exponent");
  BignumPtr e(raw);
  if (!BN_is_word(e.get(), kExponent))
    return InvalidArgumentError("RSA public exponent is not 3 (SGX requires e = 3)");
  raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &raw) != 1)
    return OpensslError(ErrorCode::kInvalidArgument, "reading the RSA modulus");
  BignumPtr n(raw);
  Rsa3072Block modulus{};
  if (BN_bn2binpad(n.get(), modulus.data(), modulus.size()) < 0)
    return InternalError("RSA modulus does not fit 384 bytes");
  return modulus;
}

}  // namespace

// Modulus and exponent are read once, so the accessors cannot fail.
struct Rsa3072PrivateKey::Impl {
  PkeyPtr pkey;
  Rsa3072Block modulus{};
};

Rsa3072PrivateKey::Rsa3072PrivateKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Rsa3072PrivateKey::Rsa3072PrivateKey(Rsa3072PrivateKey&&) noexcept = default;
Rsa3072PrivateKey& Rsa3072PrivateKey::operator=(Rsa3072PrivateKey&&) noexcept = default;
Rsa3072PrivateKey::~Rsa3072PrivateKey() = default;

StatusOr<Rsa3072PrivateKey> Rsa3072PrivateKey::Generate() {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  BignumPtr e(BN_new());
  if (!ctx || !e || BN_set_word(e.get(), kExponent) != 1 || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), kModulusBits) != 1 ||
      EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), e.get()) != 1)
    return OpensslError(ErrorCode::kInternal, "setting up RSA key generation");
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_keygen(ctx.get(), &raw) != 1)
    return OpensslError(ErrorCode::kInternal, "generating an RSA key");
  PkeyPtr pkey(raw);
  CONFIDE_ASSIGN_OR_RETURN(Rsa3072Block modulus, CheckSgxKey(pkey.get()));
  return Rsa3072PrivateKey(std::make_unique<Impl>(Impl{std::move(pkey), modulus}));
}

StatusOr<Rsa3072PrivateKey> Rsa3072PrivateKey::FromPem(std::string_view pem) {
  CONFIDE_ASSIGN_OR_RETURN(PkeyPtr pkey, ReadPrivateKeyPem(pem));
  CONFIDE_ASSIGN_OR_RETURN(Rsa3072Block modulus, CheckSgxKey(pkey.get()));
  return Rsa3072PrivateKey(std::make_unique<Impl>(Impl{std::move(pkey), modulus}));
}

std::string Rsa3072PrivateKey::ToPem() const {
  return WritePrivateKeyPem(impl_->pkey.get(), "writing RSA PEM");
}

Rsa3072Block Rsa3072PrivateKey::Modulus() const { return impl_->modulus; }

uint32_t Rsa3072PrivateKey::Exponent() const { return kExponent; }

StatusOr<Rsa3072Block> Rsa3072PrivateKey::Sign(ByteSpan message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  // An RSA key's default padding is PKCS#1 v1.5.
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, impl_->pkey.get()) != 1)
    return OpensslError(ErrorCode::kInternal, "RSA sign init");
  Rsa3072Block signature{};
  size_t size = signature.size();
  if (EVP_DigestSign(ctx.get(), signature.data(), &size, message.data(), message.size()) != 1)
    return OpensslError(ErrorCode::kInternal, "RSA sign");
  if (size != signature.size())
    return InternalError("RSA signature is " + std::to_string(size) + " bytes, not 384");
  return signature;
}

Status Rsa3072Verify(const Rsa3072Block& modulus, uint32_t exponent, ByteSpan message,
                     const Rsa3072Block& signature) {
  BignumPtr n = BignumFrom(modulus);
  BignumPtr e(BN_new());
  if (!n || !e || BN_set_word(e.get(), exponent) != 1)
    return OpensslError(ErrorCode::kInternal, "BIGNUM allocation");
  if (BN_num_bits(n.get()) != kModulusBits || !BN_is_odd(n.get()))
    return InvalidArgumentError("RSA modulus is not an odd 3072-bit number");
  if (exponent < 3 || exponent % 2 == 0)
    return InvalidArgumentError("RSA public exponent " + std::to_string(exponent) +
                                " is not an odd number >= 3");

  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1)
    return OpensslError(ErrorCode::kInternal, "building RSA public key parameters");
  ParamsPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr pctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !pctx || EVP_PKEY_fromdata_init(pctx.get()) != 1 ||
      EVP_PKEY_fromdata(pctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    return OpensslError(ErrorCode::kInvalidArgument, "RSA public key");
  PkeyPtr pkey(raw);

  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey.get()) != 1)
    return OpensslError(ErrorCode::kInternal, "RSA verify init");
  // 0 is a wrong signature; a negative result is a malformed one (e.g. s >= n).
  // Both fail closed.
  if (EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                       message.size()) != 1) {
    ERR_clear_error();
    return PermissionDeniedError("RSA signature does not verify");
  }
  return OkStatus();
}

RsaQ1Q2 ComputeQ1Q2(const Rsa3072Block& signature, const Rsa3072Block& modulus) {
  // q1 = floor(s^2 / n), r = s^2 mod n. Since s^3 - q1*s*n = s*(s^2 - q1*n) = s*r,
  // q2 = floor(s*r / n): the SDM's formula with smaller intermediates.
  // With n = 0, or a q1 or q2 wider than 384 bytes (possible only if s >= n),
  // there is no valid answer; the result is then all zero, which EINIT rejects.
  BignumPtr s = BignumFrom(signature), n = BignumFrom(modulus);
  BignumPtr sq(BN_new()), q1(BN_new()), r(BN_new()), sr(BN_new()), q2(BN_new());
  BnCtxPtr ctx(BN_CTX_new());
  RsaQ1Q2 out;
  if (!s || !n || !sq || !q1 || !r || !sr || !q2 || !ctx || BN_is_zero(n.get()) ||
      BN_sqr(sq.get(), s.get(), ctx.get()) != 1 ||
      BN_div(q1.get(), r.get(), sq.get(), n.get(), ctx.get()) != 1 ||
      BN_mul(sr.get(), s.get(), r.get(), ctx.get()) != 1 ||
      BN_div(q2.get(), nullptr, sr.get(), n.get(), ctx.get()) != 1 ||
      BN_bn2binpad(q1.get(), out.q1.data(), out.q1.size()) < 0 ||
      BN_bn2binpad(q2.get(), out.q2.data(), out.q2.size()) < 0) {
    ERR_clear_error();
    return RsaQ1Q2{};
  }
  return out;
}

}  // namespace confide::crypto
