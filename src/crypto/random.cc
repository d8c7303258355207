// Random bytes from OpenSSL's default DRBG (seeded from the OS, reseeded on fork).
#include "crypto/random.h"

#include <algorithm>
#include <climits>
#include <string>

#include <openssl/err.h>
#include <openssl/rand.h>

namespace confide::crypto {

Status RandomBytes(MutableByteSpan out) {
  // RAND_bytes takes an int length; large buffers go in pieces.
  constexpr size_t kChunk = INT_MAX;
  for (size_t done = 0; done < out.size();) {
    const size_t n = std::min(kChunk, out.size() - done);
    if (RAND_bytes(out.data() + done, static_cast<int>(n)) != 1) {
      char reason[256];
      ERR_error_string_n(ERR_get_error(), reason, sizeof(reason));
      ERR_clear_error();
      return UnavailableError(std::string("RAND_bytes failed: ") + reason);
    }
    done += n;
  }
  return OkStatus();
}

}  // namespace confide::crypto
