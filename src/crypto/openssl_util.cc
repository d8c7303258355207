#include "crypto/openssl_util.h"

#include <cstdio>
#include <cstdlib>

#include <climits>

#include <openssl/err.h>
#include <openssl/pem.h>

namespace confide::crypto::internal {

tl::unexpected<Error> OpensslError(ErrorCode code, std::string what) {
  if (unsigned long err = ERR_get_error(); err != 0) {
    char reason[256];
    ERR_error_string_n(err, reason, sizeof(reason));
    what += ": ";
    what += reason;
  }
  ERR_clear_error();
  return MakeError(code, std::move(what));
}

namespace {
// Never prompts on a terminal for an encrypted PEM: reports "no password".
int NoPassword(char*, int, int, void*) { return -1; }
}  // namespace

StatusOr<PkeyPtr> ReadPrivateKeyPem(std::string_view pem) {
  if (pem.size() > INT_MAX) return InvalidArgumentError("PEM is larger than 2 GiB");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpensslError(ErrorCode::kInternal, "BIO_new_mem_buf");
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  if (!pkey) return OpensslError(ErrorCode::kInvalidArgument, "not an unencrypted PEM private key");
  return pkey;
}

std::string WritePrivateKeyPem(EVP_PKEY* pkey, const char* what) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  char* data = nullptr;
  long size = 0;
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), pkey, nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      (size = BIO_get_mem_data(bio.get(), &data)) <= 0) {
    // No error channel; writing to memory fails only when out of memory, and
    // an empty or partial key file would lose the key silently.
    DieOnOpensslFailure(what);
  }
  std::string pem(data, static_cast<size_t>(size));
  OPENSSL_cleanse(data, static_cast<size_t>(size));
  return pem;
}

void DieOnOpensslFailure(const char* what) {
  std::fprintf(stderr, "confide: fatal: %s\n",
               OpensslError(ErrorCode::kInternal, what).value().message.c_str());
  std::abort();
}

}  // namespace confide::crypto::internal
