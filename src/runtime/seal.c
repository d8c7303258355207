// seal.c — the hand-off between the enclaves of a transfer chain (see
// seal.h). libsodium does the AEAD; the key never exists outside enclaves.
#include "runtime/seal.h"

#include <sodium.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/enclu.h"

// KEYREQUEST fields (SDM Vol. 3D §38.18, Table 38-19), by byte offset.
#define KEYREQUEST_KEYNAME 0
#define KEYREQUEST_KEYPOLICY 2
#define KEYREQUEST_ATTRIBUTEMASK 24
#define KEYREQUEST_KEYID 40
#define KEYNAME_SEAL 4
#define KEYPOLICY_MRSIGNER 0x2
// ATTRIBUTES.INIT and .DEBUG: a debug enclave never shares a key with a
// production one.
#define ATTRIBUTE_MASK 0x3ull

static const char kContext[] = "confide chain hand-off v1";

static int hand_off_key(const uint8_t key_id[32], uint8_t key[crypto_aead_aes256gcm_KEYBYTES]) {
  alignas(512) uint8_t request[512];
  alignas(16) uint8_t seal_key[16];
  memset(request, 0, sizeof request);
  const uint16_t name = KEYNAME_SEAL, policy = KEYPOLICY_MRSIGNER;
  const uint64_t mask = ATTRIBUTE_MASK;
  memcpy(request + KEYREQUEST_KEYNAME, &name, sizeof name);
  memcpy(request + KEYREQUEST_KEYPOLICY, &policy, sizeof policy);
  memcpy(request + KEYREQUEST_ATTRIBUTEMASK, &mask, sizeof mask);
  memcpy(request + KEYREQUEST_KEYID, key_id, 32);
  uint64_t rc = confide_enclu(CONFIDE_ENCLU_EGETKEY, (uint64_t)(uintptr_t)request,
                              (uint64_t)(uintptr_t)seal_key, 0);
  if (rc != 0) return -1;
  // EGETKEY gives 128 bits; AES-256-GCM wants 256: widen with BLAKE2b,
  // bound to this use by the context string.
  int ok = crypto_generichash(key, crypto_aead_aes256gcm_KEYBYTES, (const uint8_t*)kContext,
                              sizeof kContext - 1, seal_key, sizeof seal_key) == 0;
  sodium_memzero(seal_key, sizeof seal_key);
  return ok ? 0 : -1;
}

static const char* ready(void) {
  if (sodium_init() < 0) return "libsodium failed to initialize";
  if (!crypto_aead_aes256gcm_is_available()) return "AES-256-GCM needs AES-NI and PCLMUL";
  return NULL;
}

const char* confide_seal(const uint8_t key_id[32], const uint8_t* in, size_t in_len, uint8_t** out,
                         size_t* out_len) {
  const char* why = ready();
  if (why != NULL) return why;
  const size_t overhead = CONFIDE_SEAL_NONCE_BYTES + CONFIDE_SEAL_TAG_BYTES;
  if (in_len > SIZE_MAX - overhead) return "output too large to seal";
  uint8_t key[crypto_aead_aes256gcm_KEYBYTES];
  if (hand_off_key(key_id, key) != 0) return "EGETKEY refused the hand-off key";
  uint8_t* sealed = malloc(in_len + overhead);
  if (sealed == NULL) {
    sodium_memzero(key, sizeof key);
    return "out of memory while sealing";
  }
  // Random 96-bit nonces: one key per chain (key_id), few messages per key.
  randombytes_buf(sealed, CONFIDE_SEAL_NONCE_BYTES);
  unsigned long long len = 0;
  crypto_aead_aes256gcm_encrypt(sealed + CONFIDE_SEAL_NONCE_BYTES, &len, in, in_len, NULL, 0, NULL,
                                sealed, key);
  sodium_memzero(key, sizeof key);
  *out = sealed;
  *out_len = CONFIDE_SEAL_NONCE_BYTES + (size_t)len;
  return NULL;
}

const char* confide_unseal(const uint8_t key_id[32], const uint8_t* in, size_t in_len,
                           uint8_t** out, size_t* out_len) {
  const char* why = ready();
  if (why != NULL) return why;
  if (in_len < CONFIDE_SEAL_NONCE_BYTES + CONFIDE_SEAL_TAG_BYTES) return "sealed input too short";
  uint8_t key[crypto_aead_aes256gcm_KEYBYTES];
  if (hand_off_key(key_id, key) != 0) return "EGETKEY refused the hand-off key";
  const size_t plain_max = in_len - CONFIDE_SEAL_NONCE_BYTES - CONFIDE_SEAL_TAG_BYTES;
  uint8_t* plain = malloc(plain_max > 0 ? plain_max : 1);
  if (plain == NULL) {
    sodium_memzero(key, sizeof key);
    return "out of memory while unsealing";
  }
  unsigned long long len = 0;
  int rc = crypto_aead_aes256gcm_decrypt(plain, &len, NULL, in + CONFIDE_SEAL_NONCE_BYTES,
                                         in_len - CONFIDE_SEAL_NONCE_BYTES, NULL, 0, in, key);
  sodium_memzero(key, sizeof key);
  if (rc != 0) {
    free(plain);
    return "sealed input failed authentication";
  }
  *out = plain;
  *out_len = (size_t)len;
  return NULL;
}
