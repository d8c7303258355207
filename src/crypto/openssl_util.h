// openssl_util.h — what the crypto .cc files share about OpenSSL: owning
// pointers for its objects and turning its error queue into an Error. Private
// to src/crypto; nothing above the crypto layer includes OpenSSL.
//
// Thread-safety: OpenSSL's error queue is per thread; so is OpensslError.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "base/status.h"

namespace confide::crypto::internal {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};

using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BN_clear_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, Deleter<BN_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>>;

// Drains this thread's OpenSSL error queue into an Error "what: reason".
tl::unexpected<Error> OpensslError(ErrorCode code, std::string what);

// Reads an unencrypted PEM private key (never prompts for a password).
// InvalidArgumentError if `pem` is not one.
StatusOr<PkeyPtr> ReadPrivateKeyPem(std::string_view pem);
// The PKCS#8 PEM of `pkey`; dies on failure (see DieOnOpensslFailure).
std::string WritePrivateKeyPem(EVP_PKEY* pkey, const char* what);

// For the few calls with no error channel (CMAC, PEM output), which fail only
// when OpenSSL cannot allocate or has no default provider: print and abort,
// since a made-up MAC or an empty key file would fail silently later.
[[noreturn]] void DieOnOpensslFailure(const char* what);

}  // namespace confide::crypto::internal
