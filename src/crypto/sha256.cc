// SHA-256 over OpenSSL's low-level SHA256_CTX. OpenSSL 3 deprecates that API in
// favour of EVP, but EVP allocates a context per hash and dispatches through a
// provider on every call; measurement hashes every EADDed page, so confide keeps
// the plain-data context inline instead. Only this file opts out of the warning.
#define OPENSSL_SUPPRESS_DEPRECATED

#include "crypto/sha256.h"

#include <new>
#include <type_traits>

#include <openssl/sha.h>

namespace confide::crypto {
namespace {

// Sha256::ctx_ is 112 bytes, aligned to 8 (sha256.h).
constexpr size_t kCtxBufferSize = 112;
static_assert(sizeof(SHA256_CTX) <= kCtxBufferSize, "grow Sha256::ctx_");
static_assert(alignof(SHA256_CTX) <= 8, "raise the alignment of Sha256::ctx_");
// The defaulted copy of ctx_ must be a correct copy of the hash state.
static_assert(std::is_trivially_copyable_v<SHA256_CTX>);

SHA256_CTX* Ctx(uint8_t* buffer) {
  // SAFETY: `buffer` is Sha256::ctx_, large and aligned enough (asserted
  // above). The constructor placement-news a SHA256_CTX into it; a copied
  // ctx_ holds one too, because copying an unsigned char array implicitly
  // creates implicit-lifetime objects such as this C struct (C++20
  // [intro.object]/10-13). launder makes the pointer refer to that object.
  return std::launder(reinterpret_cast<SHA256_CTX*>(buffer));
}

}  // namespace

Sha256::Sha256() {
  new (ctx_) SHA256_CTX;
  Reset();
}

void Sha256::Update(ByteSpan data) {
  // SHA256_Update cannot fail for an initialised context.
  SHA256_Update(Ctx(ctx_), data.data(), data.size());
}

Sha256Digest Sha256::Finish() {
  Sha256Digest digest;
  SHA256_Final(digest.data(), Ctx(ctx_));
  return digest;
}

void Sha256::Reset() { SHA256_Init(Ctx(ctx_)); }

Sha256Digest Sha256Of(ByteSpan data) {
  Sha256 h;
  h.Update(data);
  return h.Finish();
}

}  // namespace confide::crypto
