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
 *
 * It also computes scrypt's ROMix (RFC 7914) for opening keys, with half of its memory (romix
 * below): OpenSSL's scrypt, like every other here, holds all N blocks of V. And it sets glibc's
 * malloc thresholds (malloc_thresholds below), which Node has no way to reach.
 */
#include <node_api.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

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

/*
 * scrypt's ROMix, keeping every other block of V: 64·r·N bytes per lane instead of 128·r·N (16 MiB
 * instead of 32 for restic's and keepsake's keys, N=2^15, r=8). An odd V[j] is recomputed from
 * V[j-1] when the second loop asks for it, on average N/2 more BlockMix on top of ROMix's 2N; the
 * smaller V misses the processor's caches less and takes half the page faults. On a 2.1 GHz Xeon,
 * p=8: 479-511 ms here, 466-493 in OpenSSL's scrypt; p=4: 236-259 ms, 246-258.
 * Why by hand: Node's scrypt (OpenSSL's) and the npm packages hold all of V; the peak memory of a
 * backup that finds little changed is the key's derivation beside the scan (58,833 files: 95 MiB).
 *
 * Blocks are 64-byte Salsa20 states with their 16 words stored in the order 0 5 10 15 4 9 14 3 8
 * 13 2 7 12 1 6 11 (word k holds word 5k mod 16): each 16-byte row then holds one operand of the
 * four quarter-rounds of a column round, and a row round is a column round after turning rows 1-3
 * by one, two and three words. Word 0 stays in place for Integerify. GCC's and Clang's vector
 * types compile this to SSE2 on x86-64 and to NEON on ARM.
 */
typedef uint32_t u32x4 __attribute__((vector_size(16)));

#define ROTATE(v, k) (((v) << (k)) | ((v) >> (32 - (k))))
/* Rotate a row's words: GCC has __builtin_shufflevector from version 12 on, __builtin_shuffle before. */
#if defined(__clang__) || __GNUC__ >= 12
#define TURN(v, a, b, c, d) __builtin_shufflevector(v, v, a, b, c, d)
#else
#define TURN(v, a, b, c, d) __builtin_shuffle(v, (u32x4){ a, b, c, d })
#endif

/* Salsa20's four quarter-rounds side by side, one per column: b ^= (a + d) <<< 7, and so on. */
#define QUARTER_ROUNDS(a, b, c, d) \
  do { \
    b ^= ROTATE(a + d, 7); \
    c ^= ROTATE(b + a, 9); \
    d ^= ROTATE(c + b, 13); \
    a ^= ROTATE(d + c, 18); \
  } while (0)

/* dst = BlockMix_salsa8(src xor x): 2r blocks of four rows each. */
static void blockmix(const u32x4 *src, const u32x4 *x, u32x4 *dst, size_t r) {
  size_t last = (2 * r - 1) * 4;
  u32x4 a0 = src[last] ^ x[last], a1 = src[last + 1] ^ x[last + 1], a2 = src[last + 2] ^ x[last + 2], a3 = src[last + 3] ^ x[last + 3];
  for (size_t i = 0; i < 2 * r; i++) {
    a0 ^= src[4 * i] ^ x[4 * i];
    a1 ^= src[4 * i + 1] ^ x[4 * i + 1];
    a2 ^= src[4 * i + 2] ^ x[4 * i + 2];
    a3 ^= src[4 * i + 3] ^ x[4 * i + 3];
    u32x4 i0 = a0, i1 = a1, i2 = a2, i3 = a3;
    for (int n = 0; n < 4; n++) {
      QUARTER_ROUNDS(a0, a1, a2, a3); /* column round */
      a1 = TURN(a1, 3, 0, 1, 2);
      a2 = TURN(a2, 2, 3, 0, 1);
      a3 = TURN(a3, 1, 2, 3, 0);
      QUARTER_ROUNDS(a0, a3, a2, a1); /* row round: rows 1 and 3 trade places */
      a1 = TURN(a1, 1, 2, 3, 0);
      a2 = TURN(a2, 2, 3, 0, 1);
      a3 = TURN(a3, 3, 0, 1, 2);
    }
    /* Output block i goes to slot i/2 when i is even, r + (i-1)/2 when odd. */
    a0 += i0;
    a1 += i1;
    a2 += i2;
    a3 += i3;
    u32x4 *o = dst + 4 * ((i >> 1) + (i & 1) * r);
    o[0] = a0;
    o[1] = a1;
    o[2] = a2;
    o[3] = a3;
  }
}

/* ROMix of the lane in X, in place. v: N/2 blocks of 128r bytes; y, t: one each; zero: one of zeros. */
static void romix_half(u32x4 *x, size_t r, uint32_t n, u32x4 *v, u32x4 *y, u32x4 *t, const u32x4 *zero) {
  size_t w = 8 * r, bytes = 128 * r; /* rows, bytes per 128r-byte block */
  for (uint32_t i = 0; i < n; i += 2) {
    memcpy(v + (i / 2) * w, x, bytes);
    blockmix(x, zero, y, r);
    blockmix(y, zero, x, r);
  }
  for (uint32_t i = 0; i < n; i++) {
    uint32_t j = x[w - 4][0] & (n - 1); /* Integerify: word 0 of the last 64-byte block */
    const u32x4 *vj = v + (j / 2) * w;
    if (j & 1) {
      blockmix(vj, zero, t, r);
      vj = t;
    }
    blockmix(x, vj, y, r);
    memcpy(x, y, bytes);
  }
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref lanes;  /* the caller's Uint8Array, written back on completion */
  u32x4 *mixed;    /* the lanes, in the word order above */
  size_t length;   /* bytes */
  uint32_t n, r;
  int ok;
} romix_job_t;

/* Lanes' words between little-endian bytes and the order above; way 1: in, 0: out. */
static void reorder(unsigned char *bytes, uint32_t *words, size_t length, int way) {
  for (size_t block = 0; block < length; block += 64) {
    for (int k = 0; k < 16; k++) {
      unsigned char *b = bytes + block + 4 * ((5 * k) % 16);
      uint32_t *w = words + block / 4 + k;
      if (way) *w = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
      else b[0] = (unsigned char)*w, b[1] = (unsigned char)(*w >> 8), b[2] = (unsigned char)(*w >> 16), b[3] = (unsigned char)(*w >> 24);
    }
  }
}

/* On a thread of libuv's pool: each lane in turn, with one V of 64·r·N bytes for them all. */
static void romix_execute(napi_env env, void *data) {
  (void)env;
  romix_job_t *job = data;
  size_t bytes = 128 * (size_t)job->r, vbytes = bytes * (job->n / 2);
  u32x4 *v = aligned_alloc(64, vbytes), *scratch = aligned_alloc(64, 3 * bytes);
  job->ok = v && scratch;
  if (job->ok) {
    memset(scratch + 16 * job->r, 0, bytes);
    for (size_t at = 0; at < job->length; at += bytes) {
      romix_half(job->mixed + at / 16, job->r, job->n, v, scratch, scratch + 8 * job->r, scratch + 16 * job->r);
    }
    OPENSSL_cleanse(v, vbytes);
    OPENSSL_cleanse(scratch, 3 * bytes);
  }
  free(v);
  free(scratch);
}

/* Back on the caller's thread: the lanes into the caller's bytes, and the promise settled. */
static void romix_complete(napi_env env, napi_status status, void *data) {
  romix_job_t *job = data;
  napi_value lanes, err, msg;
  size_t length;
  unsigned char *out = NULL;
  if (napi_get_reference_value(env, job->lanes, &lanes) == napi_ok) out = bytes_of(env, lanes, &length);
  if (status == napi_ok && job->ok && out && length == job->length) {
    reorder(out, (uint32_t *)job->mixed, job->length, 0);
    napi_get_undefined(env, &lanes);
    napi_resolve_deferred(env, job->deferred, lanes);
  } else {
    napi_create_string_utf8(env, job->ok ? "romix: the lanes went away" : "romix: out of memory", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, job->deferred, err);
  }
  OPENSSL_cleanse(job->mixed, job->length);
  free(job->mixed);
  napi_delete_reference(env, job->lanes);
  napi_delete_async_work(env, job->work);
  free(job);
}

/*
 * romix(lanes, N, r) -> Promise<void>: scrypt's ROMix of each 128·r-byte lane of lanes, in place,
 * one after another on a thread of libuv's pool (as Node's own scrypt runs). N a power of two >= 2.
 */
static napi_value romix(napi_env env, napi_callback_info info) {
  size_t argc = 3, length;
  napi_value a[3] = { NULL }, promise, name;
  uint32_t n = 0, r = 0;
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok || argc < 3) return fail(env, "romix: three arguments expected");
  unsigned char *lanes = bytes_of(env, a[0], &length);
  if (!lanes || napi_get_value_uint32(env, a[1], &n) != napi_ok || napi_get_value_uint32(env, a[2], &r) != napi_ok
      || n < 2 || (n & (n - 1)) != 0 || r < 1 || r > (1 << 20) || length == 0 || length % (128 * (size_t)r) != 0
      || (size_t)n > SIZE_MAX / 2 / (128 * (size_t)r)) {
    return fail(env, "romix: expected whole 128·r-byte lanes, N a power of two >= 2, and r >= 1");
  }
  romix_job_t *job = calloc(1, sizeof *job);
  if (job) job->mixed = aligned_alloc(64, (length + 63) / 64 * 64);
  if (!job || !job->mixed) {
    free(job);
    return fail(env, "romix: out of memory");
  }
  job->length = length;
  job->n = n;
  job->r = r;
  reorder(lanes, (uint32_t *)job->mixed, length, 1);
  if (napi_create_reference(env, a[0], 1, &job->lanes) != napi_ok
      || napi_create_promise(env, &job->deferred, &promise) != napi_ok
      || napi_create_string_utf8(env, "keepsake:romix", NAPI_AUTO_LENGTH, &name) != napi_ok
      || napi_create_async_work(env, NULL, name, romix_execute, romix_complete, job, &job->work) != napi_ok
      || napi_queue_async_work(env, job->work) != napi_ok) {
    if (job->work) napi_delete_async_work(env, job->work);
    if (job->lanes) napi_delete_reference(env, job->lanes);
    free(job->mixed);
    free(job);
    return fail(env, "romix: could not start");
  }
  return promise;
}

/*
 * malloc_thresholds(mmap, trim) -> boolean: glibc's M_MMAP_THRESHOLD (blocks from this size are
 * mapped on their own and unmapped when freed) and M_TRIM_THRESHOLD (free memory above this at the
 * top of the heap goes back to the system), for the whole process. Setting them also stops glibc
 * from raising them by itself. False (nothing done) where the C library is not glibc.
 */
static napi_value malloc_thresholds(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value a[2] = { NULL }, result;
  uint32_t mmap_at = 0, trim_at = 0;
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok || argc < 2
      || napi_get_value_uint32(env, a[0], &mmap_at) != napi_ok || napi_get_value_uint32(env, a[1], &trim_at) != napi_ok
      || mmap_at == 0 || mmap_at > (32u << 20) || trim_at == 0 || trim_at > (1u << 30)) {
    return fail(env, "malloc_thresholds: expected an mmap threshold of 1 byte to 32 MiB and a trim threshold of 1 byte to 1 GiB");
  }
  bool done = false;
#ifdef __GLIBC__
  done = mallopt(M_MMAP_THRESHOLD, (int)mmap_at) == 1 && mallopt(M_TRIM_THRESHOLD, (int)trim_at) == 1;
#endif
  return napi_get_boolean(env, done, &result) == napi_ok ? result : NULL;
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
    { "keys", keys }, { "mac", mac }, { "open", open_sealed }, { "seal", seal }, { "romix", romix },
    { "mallocThresholds", malloc_thresholds },
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f) != napi_ok
        || napi_set_named_property(env, exports, fns[i].name, f) != napi_ok) return NULL;
  }
  return exports;
}
