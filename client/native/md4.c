/*
 * MD4 of many equal-length blocks, sixteen at a time: one AVX-512 lane per block
 * (client/src/rsync/md4-lanes.ts, which uses it where the CPU has AVX-512F; WebAssembly's four
 * lanes elsewhere). With the rollsum of each block from the same loads, as the WebAssembly
 * kernel does.
 *
 * lanes(): number -- 16 where this CPU runs md4Blocks, else 0 (not x86-64, or no AVX-512F).
 * md4Blocks(data, start, count, blockLen, out, outAt, outStride, len, rollsums | undefined) --
 *   block i (data[start + i * blockLen], blockLen bytes) gets its MD4's first `len` bytes at
 *   out[outAt + i * outStride] and, with `rollsums` (a Uint32Array), its rollsum digest at
 *   rollsums[i]. Every block is hashed here, however few.
 *
 * Why: a full backup signs every byte it stores, and MD4's rounds are a chain where each step
 * waits for the one before, so lanes are the only way to go faster: sixteen blocks take the
 * steps of one. Words are gathered from the sixteen blocks (vpgatherdd), the tail of each block
 * (with MD4's padding) from a small buffer. The rollsum (librsync's, +31 per byte) is summed in
 * 16-bit halves of each lane over a 64-byte chunk, then folded: s1 += S, s2 += 64 * s1 + 4 * T -
 * (B1 + 2 * B2 + 3 * B3), S the chunk's bytes, T the sums of S after each word, Bj the sums of
 * byte j of its words (client/src/rsync/weaksum.ts).
 */
#include <node_api.h>
#include <stdint.h>
#include <string.h>
#include "uint8-array.h"

static napi_value fail(napi_env env, const char *message) {
  napi_throw_error(env, "ERR_DEADDROP_MD4", message);
  return NULL;
}

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

struct lanes16 {
  __m512i a, b, c, d;
  __m512i s1, s2; /* raw rollsums: byte sums and prefix sums, mod 2^32 */
};

#define STEP(f, a, b, c, d, x, k, s) \
  a = _mm512_rol_epi32(_mm512_add_epi32(_mm512_add_epi32(a, _mm512_ternarylogic_epi32(b, c, d, f)), _mm512_add_epi32(x, k)), s)

/* One 64-byte chunk of each lane: its words from base + lane offset (idx) + 4 * j. */
AVX512 static void chunk16(struct lanes16 *st, const uint8_t *base, __m512i idx, __mmask16 live, int sums) {
  __m512i x[16];
  for (int j = 0; j < 16; j++) x[j] = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, idx, base + 4 * j, 1);
  __m512i a = st->a, b = st->b, c = st->c, d = st->d;
  const __m512i k0 = _mm512_setzero_si512(), k1 = _mm512_set1_epi32(0x5A827999), k2 = _mm512_set1_epi32(0x6ED9EBA1);
  /* F = b ? c : d (0xCA), G = majority (0xE8), H = b ^ c ^ d (0x96) */
  for (int j = 0; j < 16; j += 4) {
    STEP(0xCA, a, b, c, d, x[j], k0, 3);
    STEP(0xCA, d, a, b, c, x[j + 1], k0, 7);
    STEP(0xCA, c, d, a, b, x[j + 2], k0, 11);
    STEP(0xCA, b, c, d, a, x[j + 3], k0, 19);
  }
  for (int j = 0; j < 4; j++) {
    STEP(0xE8, a, b, c, d, x[j], k1, 3);
    STEP(0xE8, d, a, b, c, x[j + 4], k1, 5);
    STEP(0xE8, c, d, a, b, x[j + 8], k1, 9);
    STEP(0xE8, b, c, d, a, x[j + 12], k1, 13);
  }
  static const int order3[4] = {0, 2, 1, 3};
  for (int n = 0; n < 4; n++) {
    int j = order3[n];
    STEP(0x96, a, b, c, d, x[j], k2, 3);
    STEP(0x96, d, a, b, c, x[j + 8], k2, 9);
    STEP(0x96, c, d, a, b, x[j + 4], k2, 11);
    STEP(0x96, b, c, d, a, x[j + 12], k2, 15);
  }
  st->a = _mm512_add_epi32(st->a, a);
  st->b = _mm512_add_epi32(st->b, b);
  st->c = _mm512_add_epi32(st->c, c);
  st->d = _mm512_add_epi32(st->d, d);
  if (!sums) return;
  const __m512i m = _mm512_set1_epi32(0x00ff00ff), lo = _mm512_set1_epi32(0xffff);
  __m512i l = _mm512_setzero_si512(), u = l, tl = l, tu = l; /* bytes 0 and 2, 1 and 3: sums, running sums */
  for (int j = 0; j < 16; j++) {
    l = _mm512_add_epi32(l, _mm512_and_si512(x[j], m));
    u = _mm512_add_epi32(u, _mm512_and_si512(_mm512_srli_epi32(x[j], 8), m));
    tl = _mm512_add_epi32(tl, l);
    tu = _mm512_add_epi32(tu, u);
  }
  __m512i b0 = _mm512_and_si512(l, lo), b2 = _mm512_srli_epi32(l, 16);
  __m512i b1 = _mm512_and_si512(u, lo), b3 = _mm512_srli_epi32(u, 16);
  __m512i s = _mm512_add_epi32(_mm512_add_epi32(b0, b1), _mm512_add_epi32(b2, b3));
  __m512i t = _mm512_add_epi32(_mm512_add_epi32(_mm512_and_si512(tl, lo), _mm512_srli_epi32(tl, 16)),
                               _mm512_add_epi32(_mm512_and_si512(tu, lo), _mm512_srli_epi32(tu, 16)));
  __m512i weighted = _mm512_add_epi32(_mm512_add_epi32(b1, _mm512_slli_epi32(b2, 1)), _mm512_add_epi32(b3, _mm512_slli_epi32(b3, 1)));
  st->s2 = _mm512_add_epi32(st->s2, _mm512_sub_epi32(_mm512_add_epi32(_mm512_slli_epi32(st->s1, 6), _mm512_slli_epi32(t, 2)), weighted));
  st->s1 = _mm512_add_epi32(st->s1, s);
}

/* Up to 16 blocks from `first` (lanes beyond `n` idle): digests and rollsums out. */
AVX512 static void blocks16(const uint8_t *first, int n, uint32_t blockLen, uint8_t *out, size_t outStride, uint32_t len,
                            uint32_t *rollsums) {
  struct lanes16 st = {
      _mm512_set1_epi32(0x67452301), _mm512_set1_epi32((int)0xefcdab89), _mm512_set1_epi32((int)0x98badcfe),
      _mm512_set1_epi32(0x10325476), _mm512_setzero_si512(), _mm512_setzero_si512(),
  };
  __mmask16 live = (__mmask16)((1u << n) - 1);
  __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                   _mm512_set1_epi32((int)blockLen));
  uint32_t whole = blockLen / 64, rest = blockLen % 64;
  for (uint32_t c = 0; c < whole; c++) chunk16(&st, first + 64 * (size_t)c, idx, live, rollsums != NULL);
  uint32_t s1[16], s2[16];
  _mm512_storeu_si512(s1, st.s1);
  _mm512_storeu_si512(s2, st.s2);
  /* The tail: the rest of each block, 0x80, zeros, the length in bits; its bytes' rollsum. */
  _Alignas(64) uint8_t tails[16][128];
  uint32_t last = rest < 56 ? 64 : 128;
  uint64_t bits = (uint64_t)blockLen * 8;
  for (int k = 0; k < 16; k++) {
    const uint8_t *from = first + (size_t)k * blockLen + 64 * (size_t)whole;
    if (k < n) memcpy(tails[k], from, rest);
    memset(tails[k] + rest, 0, last - rest);
    tails[k][rest] = 0x80;
    memcpy(tails[k] + last - 8, &bits, 8);
    if (rollsums && k < n)
      for (uint32_t i = 0; i < rest; i++) {
        s1[k] += from[i];
        s2[k] += s1[k];
      }
  }
  __m512i tidx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                    _mm512_set1_epi32(128));
  for (uint32_t c = 0; c < last / 64; c++) chunk16(&st, &tails[0][0] + 64 * c, tidx, live, 0);
  uint32_t h[4][16];
  _mm512_storeu_si512(h[0], st.a);
  _mm512_storeu_si512(h[1], st.b);
  _mm512_storeu_si512(h[2], st.c);
  _mm512_storeu_si512(h[3], st.d);
  /* +31 per byte: n * 31 to s1, 31 * n(n+1)/2 to s2 (rollsumDigest) */
  uint32_t add1 = 31u * blockLen, add2 = (uint32_t)(31u * (((uint64_t)blockLen * (blockLen + 1) / 2) & 0xffffffffu));
  for (int k = 0; k < n; k++) {
    uint8_t digest[16];
    for (int w = 0; w < 4; w++) memcpy(digest + 4 * w, &h[w][k], 4);
    memcpy(out + (size_t)k * outStride, digest, len);
    if (rollsums) rollsums[k] = ((s2[k] + add2) << 16) | ((s1[k] + add1) & 0xffff);
  }
}

static int has_avx512(void) {
  static int known = -1;
  if (known < 0) {
    __builtin_cpu_init();
    known = __builtin_cpu_supports("avx512f") != 0;
  }
  return known;
}
#else
static int has_avx512(void) { return 0; }
#endif

static napi_value lanes(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_create_uint32(env, has_avx512() ? 16 : 0, &result);
  return result;
}

/* A Uint8Array's bytes, or NULL having thrown `what`. */
static uint8_t *bytes_of(napi_env env, napi_value v, size_t *len, const char *what) {
  uint8_t *data = uint8_array_bytes(env, v, len);
  if (!data) fail(env, what);
  return data;
}

static napi_value md4_blocks(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 8)
    return fail(env, "md4Blocks(data, start, count, blockLen, out, outAt, outStride, len, rollsums?): 8 or 9 arguments");
  if (!has_avx512()) return fail(env, "md4Blocks: no AVX-512F on this CPU (lanes() is 0)");
  size_t dataLen, outLen;
  uint8_t *data = bytes_of(env, argv[0], &dataLen, "md4Blocks: data must be a Uint8Array");
  if (!data) return NULL;
  uint8_t *out = bytes_of(env, argv[4], &outLen, "md4Blocks: out must be a Uint8Array");
  if (!out) return NULL;
  double nums[6];
  const int at[6] = {1, 2, 3, 5, 6, 7};
  for (int i = 0; i < 6; i++)
    if (napi_get_value_double(env, argv[at[i]], &nums[i]) != napi_ok || nums[i] < 0 || nums[i] != (double)(size_t)nums[i])
      return fail(env, "md4Blocks: start, count, blockLen, outAt, outStride and len must be whole numbers >= 0");
  size_t start = (size_t)nums[0], count = (size_t)nums[1], blockLen = (size_t)nums[2];
  size_t outAt = (size_t)nums[3], outStride = (size_t)nums[4], len = (size_t)nums[5];
  if (blockLen == 0 || blockLen > (1u << 24)) return fail(env, "md4Blocks: blockLen must be 1 to 16 MiB");
  if (len > 16) return fail(env, "md4Blocks: len is at most 16");
  if (count > 0 && (start > dataLen || count > (dataLen - start) / blockLen))
    return fail(env, "md4Blocks: the blocks run past the end of data");
  if (count > 0 && (outAt > outLen || (count - 1) * outStride + len > outLen - outAt))
    return fail(env, "md4Blocks: the digests run past the end of out");
  uint32_t *rollsums = NULL;
  napi_valuetype vt = napi_undefined;
  if (argc > 8) napi_typeof(env, argv[8], &vt);
  if (vt != napi_undefined) {
    napi_typedarray_type type;
    size_t n;
    void *p;
    if (napi_get_typedarray_info(env, argv[8], &type, &n, &p, NULL, NULL) != napi_ok || type != napi_uint32_array)
      return fail(env, "md4Blocks: rollsums must be a Uint32Array");
    if (n < count) return fail(env, "md4Blocks: rollsums holds fewer than count");
    rollsums = p;
  }
#if defined(__x86_64__)
  for (size_t i = 0; i < count; i += 16) {
    int n = count - i < 16 ? (int)(count - i) : 16;
    blocks16(data + start + i * blockLen, n, (uint32_t)blockLen, out + outAt + i * outStride, outStride, (uint32_t)len,
             rollsums ? rollsums + i : NULL);
  }
#endif
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "lanes", NAPI_AUTO_LENGTH, lanes, NULL, &fn);
  napi_set_named_property(env, exports, "lanes", fn);
  napi_create_function(env, "md4Blocks", NAPI_AUTO_LENGTH, md4_blocks, NULL, &fn);
  napi_set_named_property(env, exports, "md4Blocks", fn);
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
