/*
 * restic's authenticated encryption (AES-256-CTR, then Poly1305-AES over the ciphertext) through
 * the OpenSSL that Node itself carries, as a Node-API addon built from this file (see crypto.ts).
 *
 * Why by hand: Node's JavaScript API has no raw Poly1305 (only inside chacha20-poly1305, whose
 * one-time key cannot be chosen), and its ciphers return a new buffer for every update, which Node
 * allocates, shrinks with a copy, and the caller copies again. No npm package offers Poly1305-AES
 * with in-place AES-CTR either (sodium-native's Poly1305 is libsodium's SSE2 one, and it has no
 * AES-CTR). OpenSSL has both, with the processor's vector instructions: this file only calls it.
 * Measured on a 2.1 GHz Xeon, 1 MiB blobs out of cache: MAC check plus decryption 0.92-1.1 GB/s in
 * WebAssembly and Node's cipher, 3.0 GB/s here; and sealing a small blob no longer pays Node's
 * ~5 µs per createCipheriv.
 *
 * The stored form is IV (16 bytes, the whole big-endian counter block) ‖ ciphertext ‖ MAC (16); the
 * Poly1305 one-time key is r ‖ AES-128_k(IV). OpenSSL's CTR mode counts over all 128 bits of the
 * block, as restic's does. Each thread (Node-API environment) has its own key contexts.
 */
#include <node_api.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  EVP_CIPHER_CTX *ctr; /* AES-256-CTR under the encryption key */
  EVP_CIPHER_CTX *ecb; /* AES-128-ECB under the MAC key k: s = AES_k(IV) */
  EVP_MAC_CTX *mac;    /* Poly1305 */
  unsigned char r[16];
} keys_t;

/* OpenSSL's EVP_*Update take an int length: long inputs go through in pieces of this many bytes. */
#define PIECE (1 << 30)

static napi_value fail(napi_env env, const char *message) {
  napi_throw_error(env, "ERR_KEEPSAKE_NATIVE_CRYPTO", message);
  return NULL;
}

/* The bytes of a Uint8Array (or Buffer) argument; NULL if it is none (or NULL). */
static unsigned char *bytes_of(napi_env env, napi_value v, size_t *length) {
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return NULL;
  napi_typedarray_type type;
  void *data;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, length, &data, &ab, &offset) != napi_ok || type != napi_uint8_array) return NULL;
  /* An empty array may have no storage at all: any non-NULL pointer does for zero bytes. */
  return data ? (unsigned char *)data : (unsigned char *)"";
}

static void free_keys(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  keys_t *k = data;
  EVP_CIPHER_CTX_free(k->ctr);
  EVP_CIPHER_CTX_free(k->ecb);
  EVP_MAC_CTX_free(k->mac);
  OPENSSL_cleanse(k->r, sizeof k->r);
  free(k);
}

static void free_mac(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  EVP_MAC_free(data);
}

/* keys(encrypt: 32 bytes, macK: 16, macR: 16) -> an opaque handle for seal, open and mac. */
static napi_value keys(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value a[3];
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok || argc < 3) return fail(env, "keys: three arguments expected");
  size_t le, lk, lr;
  unsigned char *e = bytes_of(env, a[0], &le), *k = bytes_of(env, a[1], &lk), *r = bytes_of(env, a[2], &lr);
  if (!e || !k || !r || le != 32 || lk != 16 || lr != 16) return fail(env, "keys: expected keys of 32, 16 and 16 bytes");
  EVP_MAC *alg;
  if (napi_get_instance_data(env, (void **)&alg) != napi_ok || !alg) return fail(env, "keys: OpenSSL has no Poly1305");
  keys_t *h = calloc(1, sizeof *h);
  if (!h) return fail(env, "keys: out of memory");
  h->ctr = EVP_CIPHER_CTX_new();
  h->ecb = EVP_CIPHER_CTX_new();
  h->mac = EVP_MAC_CTX_new(alg);
  memcpy(h->r, r, 16);
  if (!h->ctr || !h->ecb || !h->mac
      || EVP_EncryptInit_ex(h->ctr, EVP_aes_256_ctr(), NULL, e, NULL) != 1
      || EVP_EncryptInit_ex(h->ecb, EVP_aes_128_ecb(), NULL, k, NULL) != 1
      || EVP_CIPHER_CTX_set_padding(h->ecb, 0) != 1) {
    free_keys(env, h, NULL);
    return fail(env, "keys: OpenSSL could not set up AES");
  }
  napi_value handle;
  if (napi_create_external(env, h, free_keys, NULL, &handle) != napi_ok) {
    free_keys(env, h, NULL);
    return fail(env, "keys: could not wrap the contexts");
  }
  return handle;
}

static keys_t *keys_of(napi_env env, napi_value v) {
  napi_valuetype t;
  void *h;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &h) != napi_ok) return NULL;
  return h;
}

/* The first n arguments of a call into a, and the key handle that must come first; NULL if missing. */
static keys_t *keys_and_args(napi_env env, napi_callback_info info, size_t n, napi_value *a) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok || argc < n) return NULL;
  return keys_of(env, a[0]);
}

/* Poly1305-AES of msg under the one-time key r ‖ AES_k(iv), into tag. 1 on success. */
static int poly1305_aes(keys_t *k, const unsigned char *iv, const unsigned char *msg, size_t length, unsigned char tag[16]) {
  unsigned char one_time[32];
  int n;
  size_t out = 0;
  memcpy(one_time, k->r, 16);
  int ok = EVP_EncryptUpdate(k->ecb, one_time + 16, &n, iv, 16) == 1 && n == 16
    && EVP_MAC_init(k->mac, one_time, 32, NULL) == 1;
  for (size_t at = 0; ok && at < length; at += PIECE) ok = EVP_MAC_update(k->mac, msg + at, length - at < PIECE ? length - at : PIECE) == 1;
  ok = ok && EVP_MAC_final(k->mac, tag, &out, 16) == 1 && out == 16;
  OPENSSL_cleanse(one_time, sizeof one_time);
  return ok;
}

/* AES-256-CTR of in (length bytes) into out, counter block iv. In place is allowed. 1 on success. */
static int ctr(keys_t *k, const unsigned char *iv, const unsigned char *in, unsigned char *out, size_t length) {
  if (EVP_EncryptInit_ex(k->ctr, NULL, NULL, NULL, iv) != 1) return 0;
  for (size_t at = 0; at < length; at += PIECE) {
    int chunk = (int)(length - at < PIECE ? length - at : PIECE), n;
    if (EVP_EncryptUpdate(k->ctr, out + at, &n, in + at, chunk) != 1 || n != chunk) return 0;
  }
  return 1;
}

/* mac(keys, iv: 16 bytes, msg, tag: 16 bytes): Poly1305-AES of msg into tag. */
static napi_value mac(napi_env env, napi_callback_info info) {
  napi_value a[4] = { NULL };
  keys_t *k = keys_and_args(env, info, 4, a);
  size_t liv, lm, lt;
  unsigned char *iv = bytes_of(env, a[1], &liv), *msg = bytes_of(env, a[2], &lm), *tag = bytes_of(env, a[3], &lt);
  if (!k || !iv || !msg || !tag || liv != 16 || lt != 16) return fail(env, "mac: expected keys, a 16-byte IV, a message and a 16-byte tag");
  if (!poly1305_aes(k, iv, msg, lm, tag)) return fail(env, "mac: OpenSSL failed");
  return NULL;
}

/*
 * open(keys, sealed, out) -> true, with the plaintext (sealed.length - 32 bytes) written at the start
 * of out; false, with nothing written, if the MAC does not match.
 */
static napi_value open_sealed(napi_env env, napi_callback_info info) {
  napi_value a[3] = { NULL };
  keys_t *k = keys_and_args(env, info, 3, a);
  size_t ls, lo;
  unsigned char *sealed = bytes_of(env, a[1], &ls), *out = bytes_of(env, a[2], &lo);
  if (!k || !sealed || !out || ls < 32 || lo < ls - 32) return fail(env, "open: expected keys, at least 32 sealed bytes and room for the plaintext");
  size_t length = ls - 32;
  const unsigned char *iv = sealed, *ct = sealed + 16, *want = sealed + 16 + length;
  unsigned char tag[16];
  if (!poly1305_aes(k, iv, ct, length, tag)) return fail(env, "open: OpenSSL failed");
  napi_value result;
  if (CRYPTO_memcmp(tag, want, 16) != 0) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  if (!ctr(k, iv, ct, out, length)) return fail(env, "open: OpenSSL failed");
  napi_get_boolean(env, true, &result);
  return result;
}

/*
 * seal(keys, out, offset, plain): out holds the IV at offset; writes the ciphertext after it and the
 * MAC after that (plain.length + 32 bytes from offset in all). plain must not overlap out.
 */
static napi_value seal(napi_env env, napi_callback_info info) {
  napi_value a[4] = { NULL };
  keys_t *k = keys_and_args(env, info, 4, a);
  size_t lo, lp;
  unsigned char *out = bytes_of(env, a[1], &lo), *plain = bytes_of(env, a[3], &lp);
  int64_t offset;
  if (!k || !out || !plain || napi_get_value_int64(env, a[2], &offset) != napi_ok || offset < 0 || (size_t)offset > lo || lo - (size_t)offset < lp + 32) {
    return fail(env, "seal: expected keys, an output with room at offset, and the plaintext");
  }
  unsigned char *iv = out + offset, *ct = iv + 16;
  if (!ctr(k, iv, plain, ct, lp) || !poly1305_aes(k, iv, ct, lp, ct + lp)) return fail(env, "seal: OpenSSL failed");
  return NULL;
}

NAPI_MODULE_INIT() {
  /* One Poly1305 implementation per environment, freed with it. */
  EVP_MAC *alg = EVP_MAC_fetch(NULL, "POLY1305", NULL);
  if (!alg || napi_set_instance_data(env, alg, free_mac, NULL) != napi_ok) {
    EVP_MAC_free(alg);
    napi_throw_error(env, "ERR_KEEPSAKE_NATIVE_CRYPTO", "OpenSSL has no Poly1305");
    return NULL;
  }
  static const struct { const char *name; napi_callback fn; } fns[] = {
    { "keys", keys }, { "mac", mac }, { "open", open_sealed }, { "seal", seal },
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f) != napi_ok
        || napi_set_named_property(env, exports, fns[i].name, f) != napi_ok) return NULL;
  }
  return exports;
}
