// Random bytes from OpenSSL's default DRBG (seeded from the OS, reseeded on fork).
#include "crypto/random.h"

#include <algorithm>
#include <climits>
#include <string>

#include <openssl/rand.h>

#include "crypto/openssl_util.h"

namespace confide::crypto {

Status RandomBytes(MutableByteSpan out) {
  // RAND_bytes takes an int length; large buffers go in pieces.
  constexpr size_t kChunk = INT_MAX;
  for (size_t done = 0; done < out.size();) {
    const size_t n = std::min(kChunk, out.size() - done);
    if (RAND_bytes(out.data() + done, static_cast<int>(n)) != 1) {
      return internal::OpensslError(ErrorCode::kUnavailable, "RAND_bytes failed");
    }
    done += n;
  }
  return OkStatus();
}

}  // namespace confide::crypto
