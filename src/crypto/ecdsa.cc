// ECDSA P-256 / SHA-256 over OpenSSL 3's EVP_PKEY API. OpenSSL speaks DER
// signatures and SEC1 points; DCAP speaks raw R || S and X || Y, so this file
// converts at the boundary.
#include "crypto/ecdsa.h"

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "crypto/openssl_util.h"

namespace confide::crypto {
namespace {

using internal::BignumPtr;
using internal::BnCtxPtr;
using internal::Deleter;
using internal::MdCtxPtr;
using internal::OpensslError;
using internal::ParamBldPtr;
using internal::ParamsPtr;
using internal::PkeyCtxPtr;
using internal::PkeyPtr;
using internal::ReadPrivateKeyPem;
using internal::WritePrivateKeyPem;

using EcGroupPtr = std::unique_ptr<EC_GROUP, Deleter<EC_GROUP_free>>;
using EcPointPtr = std::unique_ptr<EC_POINT, Deleter<EC_POINT_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;

constexpr char kCurve[] = "prime256v1";  // OpenSSL's name for P-256
constexpr size_t kCoordinateSize = 32;

// Writes `bn` as 32 bytes big-endian at `out`.
Status ToCoordinate(const BIGNUM* bn, uint8_t* out) {
  if (BN_bn2binpad(bn, out, kCoordinateSize) < 0)
    return InternalError("P-256 value wider than 32 bytes");
  return OkStatus();
}

// The raw X || Y of `pkey`. EC_PUB_X/Y rather than the encoded point, whose
// form (compressed or not) depends on how the key was loaded.
StatusOr<EcdsaP256PublicKey> RawPublicKey(const EVP_PKEY* pkey) {
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  const bool got_x = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1;
  const bool got_y = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1;
  BignumPtr x_owner(x), y_owner(y);
  if (!got_x || !got_y) return OpensslError(ErrorCode::kInvalidArgument, "P-256 public point");
  EcdsaP256PublicKey out{};
  CONFIDE_RETURN_IF_ERROR(ToCoordinate(x, out.data()));
  CONFIDE_RETURN_IF_ERROR(ToCoordinate(y, out.data() + kCoordinateSize));
  return out;
}

// A P-256 EVP_PKEY from OSSL_PARAMs: public point (0x04 || X || Y) and, when
// `private_scalar` is set, the private key. `selection` is EVP_PKEY_KEYPAIR or
// EVP_PKEY_PUBLIC_KEY. Fails if the point is not on the curve.
StatusOr<PkeyPtr> KeyFromData(const EcdsaP256PublicKey& public_key, const BIGNUM* private_scalar,
                              int selection) {
  uint8_t point[1 + sizeof(EcdsaP256PublicKey)] = {POINT_CONVERSION_UNCOMPRESSED};
  std::memcpy(point + 1, public_key.data(), public_key.size());
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, kCurve, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) !=
          1 ||
      (private_scalar != nullptr &&
       OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, private_scalar) != 1))
    return OpensslError(ErrorCode::kInternal, "building P-256 key parameters");
  ParamsPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1)
    return OpensslError(ErrorCode::kInternal, "P-256 key import");
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.get()) != 1)
    return OpensslError(ErrorCode::kInvalidArgument, "public key is not a point on P-256");
  return PkeyPtr(raw);
}

}  // namespace

// The public key is read once, so PublicKey() cannot fail.
struct EcdsaP256PrivateKey::Impl {
  PkeyPtr pkey;
  EcdsaP256PublicKey public_key{};
};

EcdsaP256PrivateKey::EcdsaP256PrivateKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EcdsaP256PrivateKey::EcdsaP256PrivateKey(EcdsaP256PrivateKey&&) noexcept = default;
EcdsaP256PrivateKey& EcdsaP256PrivateKey::operator=(EcdsaP256PrivateKey&&) noexcept = default;
EcdsaP256PrivateKey::~EcdsaP256PrivateKey() = default;

StatusOr<EcdsaP256PrivateKey> EcdsaP256PrivateKey::Generate() {
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", kCurve));
  if (!pkey) return OpensslError(ErrorCode::kInternal, "generating a P-256 key");
  CONFIDE_ASSIGN_OR_RETURN(EcdsaP256PublicKey public_key, RawPublicKey(pkey.get()));
  return EcdsaP256PrivateKey(std::make_unique<Impl>(Impl{std::move(pkey), public_key}));
}

StatusOr<EcdsaP256PrivateKey> EcdsaP256PrivateKey::FromPem(std::string_view pem) {
  CONFIDE_ASSIGN_OR_RETURN(PkeyPtr pkey, ReadPrivateKeyPem(pem));
  char curve[64] = {};
  if (!EVP_PKEY_is_a(pkey.get(), "EC") ||
      EVP_PKEY_get_group_name(pkey.get(), curve, sizeof(curve), nullptr) != 1 ||
      std::string_view(curve) != kCurve) {
    ERR_clear_error();
    return InvalidArgumentError("key is not a P-256 (prime256v1) EC key");
  }
  CONFIDE_ASSIGN_OR_RETURN(EcdsaP256PublicKey public_key, RawPublicKey(pkey.get()));
  return EcdsaP256PrivateKey(std::make_unique<Impl>(Impl{std::move(pkey), public_key}));
}

StatusOr<EcdsaP256PrivateKey> EcdsaP256PrivateKey::FromScalar(ByteSpan d) {
  if (d.size() != kCoordinateSize)
    return InvalidArgumentError("P-256 private scalar must be 32 bytes, got " +
                                std::to_string(d.size()));
  EcGroupPtr group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  BignumPtr scalar(BN_bin2bn(d.data(), static_cast<int>(d.size()), nullptr));
  EcPointPtr point(group ? EC_POINT_new(group.get()) : nullptr);
  BnCtxPtr bn_ctx(BN_CTX_new());
  if (!group || !scalar || !point || !bn_ctx)
    return OpensslError(ErrorCode::kInternal, "P-256 setup");
  if (BN_is_zero(scalar.get()) || BN_cmp(scalar.get(), EC_GROUP_get0_order(group.get())) >= 0)
    return InvalidArgumentError("P-256 private scalar must be in [1, n-1]");

  // Public point = d * G, split into X || Y.
  BignumPtr x(BN_new()), y(BN_new());
  EcdsaP256PublicKey public_key{};
  if (!x || !y ||
      EC_POINT_mul(group.get(), point.get(), scalar.get(), nullptr, nullptr, bn_ctx.get()) != 1 ||
      EC_POINT_get_affine_coordinates(group.get(), point.get(), x.get(), y.get(), bn_ctx.get()) !=
          1)
    return OpensslError(ErrorCode::kInternal, "computing the P-256 public point");
  CONFIDE_RETURN_IF_ERROR(ToCoordinate(x.get(), public_key.data()));
  CONFIDE_RETURN_IF_ERROR(ToCoordinate(y.get(), public_key.data() + kCoordinateSize));

  CONFIDE_ASSIGN_OR_RETURN(PkeyPtr pkey, KeyFromData(public_key, scalar.get(), EVP_PKEY_KEYPAIR));
  return EcdsaP256PrivateKey(std::make_unique<Impl>(Impl{std::move(pkey), public_key}));
}

std::string EcdsaP256PrivateKey::ToPem() const {
  return WritePrivateKeyPem(impl_->pkey.get(), "writing EC PEM");
}

EcdsaP256PublicKey EcdsaP256PrivateKey::PublicKey() const { return impl_->public_key; }

StatusOr<EcdsaP256Signature> EcdsaP256PrivateKey::Sign(ByteSpan message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, impl_->pkey.get()) != 1)
    return OpensslError(ErrorCode::kInternal, "ECDSA sign init");
  uint8_t der[80];  // a P-256 DER signature is at most 72 bytes
  size_t der_size = sizeof(der);
  if (EVP_DigestSign(ctx.get(), der, &der_size, message.data(), message.size()) != 1)
    return OpensslError(ErrorCode::kInternal, "ECDSA sign");

  const uint8_t* p = der;
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_size)));
  if (!sig) return OpensslError(ErrorCode::kInternal, "parsing our own ECDSA signature");
  EcdsaP256Signature out{};
  CONFIDE_RETURN_IF_ERROR(ToCoordinate(ECDSA_SIG_get0_r(sig.get()), out.data()));
  CONFIDE_RETURN_IF_ERROR(ToCoordinate(ECDSA_SIG_get0_s(sig.get()), out.data() + kCoordinateSize));
  return out;
}

Status EcdsaP256Verify(const EcdsaP256PublicKey& public_key, ByteSpan message,
                       const EcdsaP256Signature& signature) {
  CONFIDE_ASSIGN_OR_RETURN(PkeyPtr pkey, KeyFromData(public_key, nullptr, EVP_PKEY_PUBLIC_KEY));

  // R || S to DER. ECDSA_SIG_set0 takes ownership of r and s on success.
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BignumPtr r(BN_bin2bn(signature.data(), kCoordinateSize, nullptr));
  BignumPtr s(BN_bin2bn(signature.data() + kCoordinateSize, kCoordinateSize, nullptr));
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1)
    return OpensslError(ErrorCode::kInternal, "building ECDSA_SIG");
  r.release();
  s.release();
  uint8_t der[80];
  uint8_t* p = der;
  const int der_size = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (der_size <= 0 || der_size > static_cast<int>(sizeof(der)) ||
      i2d_ECDSA_SIG(sig.get(), &p) != der_size)
    return OpensslError(ErrorCode::kInternal, "encoding ECDSA signature");

  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey.get()) != 1)
    return OpensslError(ErrorCode::kInternal, "ECDSA verify init");
  // 0 is a wrong signature, negative a malformed one (e.g. r = 0): both fail.
  if (EVP_DigestVerify(ctx.get(), der, static_cast<size_t>(der_size), message.data(),
                       message.size()) != 1) {
    ERR_clear_error();
    return PermissionDeniedError("ECDSA signature does not verify");
  }
  return OkStatus();
}

}  // namespace confide::crypto
