// X25519 through EVP_PKEY raw keys and HKDF through EVP_KDF (OpenSSL 3).
#include "crypto/x25519.h"

#include <memory>
#include <string>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "crypto/openssl_util.h"

namespace confide::crypto {
namespace {

using internal::Deleter;
using internal::OpensslError;
using internal::PkeyCtxPtr;
using internal::PkeyPtr;

using KdfPtr = std::unique_ptr<EVP_KDF, Deleter<EVP_KDF_free>>;
using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, Deleter<EVP_KDF_CTX_free>>;

constexpr size_t kMaxHkdfLength = 255 * 32;  // RFC 5869 §2.3: L <= 255 * HashLen

StatusOr<PkeyPtr> PrivateKey(const X25519Key& private_key) {
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, private_key.data(),
                                            private_key.size()));
  if (!pkey) return OpensslError(ErrorCode::kInternal, "X25519 private key");
  return pkey;
}

StatusOr<X25519Key> PublicOf(const EVP_PKEY* pkey) {
  X25519Key out{};
  size_t size = out.size();
  if (EVP_PKEY_get_raw_public_key(pkey, out.data(), &size) != 1 || size != out.size())
    return OpensslError(ErrorCode::kInternal, "X25519 public key");
  return out;
}

// OSSL_PARAM octet strings want a mutable, non-null pointer even when empty.
OSSL_PARAM OctetParam(const char* name, ByteSpan data) {
  static uint8_t empty = 0;
  // SAFETY: const_cast only; EVP_KDF_derive reads the parameters and never
  // writes through them.
  uint8_t* p = data.empty() ? &empty : const_cast<uint8_t*>(data.data());
  return OSSL_PARAM_construct_octet_string(name, p, data.size());
}

}  // namespace

StatusOr<X25519KeyPair> X25519Generate() {
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"));
  if (!pkey) return OpensslError(ErrorCode::kInternal, "generating an X25519 key");
  X25519KeyPair pair;
  size_t size = pair.private_key.size();
  if (EVP_PKEY_get_raw_private_key(pkey.get(), pair.private_key.data(), &size) != 1 ||
      size != pair.private_key.size())
    return OpensslError(ErrorCode::kInternal, "X25519 private key");
  CONFIDE_ASSIGN_OR_RETURN(pair.public_key, PublicOf(pkey.get()));
  return pair;
}

StatusOr<X25519Key> X25519PublicFromPrivate(const X25519Key& private_key) {
  CONFIDE_ASSIGN_OR_RETURN(PkeyPtr pkey, PrivateKey(private_key));
  return PublicOf(pkey.get());
}

StatusOr<X25519Key> X25519Agree(const X25519Key& private_key, const X25519Key& peer_public) {
  CONFIDE_ASSIGN_OR_RETURN(PkeyPtr pkey, PrivateKey(private_key));
  PkeyPtr peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_public.data(),
                                           peer_public.size()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(pkey.get(), nullptr));
  if (!peer || !ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1)
    return OpensslError(ErrorCode::kInternal, "X25519 setup");
  X25519Key secret{};
  size_t size = secret.size();
  // OpenSSL itself refuses to return an all-zero secret, so a failing derive
  // is how a low-order peer key usually shows; the check below keeps the
  // guarantee should a provider not do so.
  if (EVP_PKEY_derive(ctx.get(), secret.data(), &size) != 1)
    return OpensslError(ErrorCode::kInvalidArgument,
                        "X25519 peer key rejected (low order: all-zero shared secret)");
  if (size != secret.size()) return InternalError("X25519 secret has the wrong size");
  if (CRYPTO_memcmp(secret.data(), X25519Key{}.data(), secret.size()) == 0)
    return InvalidArgumentError("X25519 shared secret is all zero (low-order peer key)");
  return secret;
}

StatusOr<Bytes> HkdfSha256(ByteSpan ikm, ByteSpan salt, ByteSpan info, size_t length) {
  if (length > kMaxHkdfLength)
    return InvalidArgumentError("HKDF-SHA256 length " + std::to_string(length) +
                                " exceeds 255 * 32 = 8160");
  if (length == 0) return Bytes{};  // OpenSSL rejects an empty output
  KdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  KdfCtxPtr ctx(kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr);
  if (!ctx) return OpensslError(ErrorCode::kInternal, "EVP_KDF HKDF");
  char digest[] = "SHA256";  // OSSL_PARAM wants a mutable pointer
  // An empty salt is left out: RFC 5869 §2.2 then uses HashLen zero bytes,
  // which HMAC treats exactly like an empty key.
  OSSL_PARAM params[5];
  OSSL_PARAM* p = params;
  *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  *p++ = OctetParam(OSSL_KDF_PARAM_KEY, ikm);
  if (!salt.empty()) *p++ = OctetParam(OSSL_KDF_PARAM_SALT, salt);
  *p++ = OctetParam(OSSL_KDF_PARAM_INFO, info);
  *p = OSSL_PARAM_construct_end();
  Bytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return OpensslError(ErrorCode::kInternal, "HKDF-SHA256");
  }
  return out;
}

}  // namespace confide::crypto
