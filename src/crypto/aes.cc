// AES-CMAC through EVP_MAC and AES-GCM through EVP_CIPHER_CTX (OpenSSL 3).
#include "crypto/aes.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "crypto/openssl_util.h"

namespace confide::crypto {
namespace {

using internal::Deleter;
using internal::DieOnOpensslFailure;
using internal::OpensslError;

using MacPtr = std::unique_ptr<EVP_MAC, Deleter<EVP_MAC_free>>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, Deleter<EVP_MAC_CTX_free>>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX_free>>;

// AesCmac128 has no error channel (see DieOnOpensslFailure): a made-up MAC
// would be worse than stopping, since REPORT verification compares against it.

StatusOr<const EVP_CIPHER*> GcmCipher(ByteSpan key, ByteSpan iv) {
  if (iv.size() != kGcmIvSize)
    return InvalidArgumentError("AES-GCM IV must be 12 bytes, got " + std::to_string(iv.size()));
  // Fetched once: with the EVP_aes_*_gcm() handles OpenSSL 3 fetches the
  // implementation by name (locks and string compares) on every init, which
  // dominated the machine's cost-only EWB/ELDU.
  static const EVP_CIPHER* const kAes128 = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
  static const EVP_CIPHER* const kAes256 = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  if (!kAes128 || !kAes256) DieOnOpensslFailure("EVP_CIPHER_fetch(AES-GCM)");
  if (key.size() == 16) return kAes128;
  if (key.size() == 32) return kAes256;
  return InvalidArgumentError("AES-GCM key must be 16 or 32 bytes, got " +
                              std::to_string(key.size()));
}

// EVP lengths are int; feed large buffers in pieces. A null `out` passes AAD.
using UpdateFn = int (*)(EVP_CIPHER_CTX*, unsigned char*, int*, const unsigned char*, int);
Status UpdateInChunks(UpdateFn update, EVP_CIPHER_CTX* ctx, ByteSpan in, uint8_t* out) {
  constexpr size_t kChunk = size_t{1} << 30;
  for (size_t done = 0; done < in.size();) {
    const int n = static_cast<int>(std::min(kChunk, in.size() - done));
    int written = 0;
    if (update(ctx, out ? out + done : nullptr, &written, in.data() + done, n) != 1)
      return OpensslError(ErrorCode::kInternal, "AES-GCM update");
    done += static_cast<size_t>(n);
  }
  return OkStatus();
}

Status Decrypt(ByteSpan key, ByteSpan iv, ByteSpan aad, ByteSpan ciphertext, const GcmTag& tag,
               MutableByteSpan plaintext) {
  CONFIDE_ASSIGN_OR_RETURN(const EVP_CIPHER* cipher, GcmCipher(key, iv));
  if (plaintext.size() != ciphertext.size())
    return InvalidArgumentError("AES-GCM plaintext and ciphertext sizes differ");
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, key.data(), iv.data()) != 1)
    return OpensslError(ErrorCode::kInternal, "AES-GCM decrypt init");
  CONFIDE_RETURN_IF_ERROR(UpdateInChunks(EVP_DecryptUpdate, ctx.get(), aad, nullptr));
  CONFIDE_RETURN_IF_ERROR(
      UpdateInChunks(EVP_DecryptUpdate, ctx.get(), ciphertext, plaintext.data()));
  GcmTag expected = tag;  // the ctrl takes a non-const pointer
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, sizeof(GcmTag), expected.data()) != 1)
    return OpensslError(ErrorCode::kInternal, "AES-GCM set tag");
  uint8_t unused[16];  // GCM's final step writes no bytes
  int written = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), unused, &written) != 1) {
    ERR_clear_error();
    return PermissionDeniedError("AES-GCM tag mismatch");
  }
  return OkStatus();
}

}  // namespace

Mac128 AesCmac128(const Aes128Key& key, ByteSpan message) {
  MacPtr mac(EVP_MAC_fetch(nullptr, "CMAC", nullptr));
  if (!mac) DieOnOpensslFailure("EVP_MAC_fetch(CMAC)");
  MacCtxPtr ctx(EVP_MAC_CTX_new(mac.get()));
  char cipher_name[] = "AES-128-CBC";  // OSSL_PARAM wants a mutable pointer
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher_name, 0),
      OSSL_PARAM_construct_end(),
  };
  Mac128 out{};
  size_t out_len = 0;
  if (!ctx || EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), message.data(), message.size()) != 1 ||
      EVP_MAC_final(ctx.get(), out.data(), &out_len, out.size()) != 1 || out_len != out.size())
    DieOnOpensslFailure("AES-CMAC");
  return out;
}

Status AesGcmEncrypt(ByteSpan key, ByteSpan iv, ByteSpan aad, ByteSpan plaintext,
                     MutableByteSpan ciphertext, GcmTag* tag) {
  CONFIDE_ASSIGN_OR_RETURN(const EVP_CIPHER* cipher, GcmCipher(key, iv));
  if (ciphertext.size() != plaintext.size())
    return InvalidArgumentError("AES-GCM plaintext and ciphertext sizes differ");
  if (tag == nullptr) return InvalidArgumentError("AES-GCM tag output is null");
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key.data(), iv.data()) != 1)
    return OpensslError(ErrorCode::kInternal, "AES-GCM encrypt init");
  CONFIDE_RETURN_IF_ERROR(UpdateInChunks(EVP_EncryptUpdate, ctx.get(), aad, nullptr));
  CONFIDE_RETURN_IF_ERROR(
      UpdateInChunks(EVP_EncryptUpdate, ctx.get(), plaintext, ciphertext.data()));
  uint8_t unused[16];  // GCM's final step writes no bytes
  int written = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), unused, &written) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, sizeof(GcmTag), tag->data()) != 1)
    return OpensslError(ErrorCode::kInternal, "AES-GCM encrypt final");
  return OkStatus();
}

Status AesGcmDecrypt(ByteSpan key, ByteSpan iv, ByteSpan aad, ByteSpan ciphertext,
                     const GcmTag& tag, MutableByteSpan plaintext) {
  Status status = Decrypt(key, iv, aad, ciphertext, tag, plaintext);
  // Whatever went wrong, no unauthenticated plaintext may leave.
  if (!status.ok()) OPENSSL_cleanse(plaintext.data(), plaintext.size());
  return status;
}

}  // namespace confide::crypto
