/*
 * gzipMember(data: Uint8Array, level: 1..3): Buffer -- one gzip member (RFC 1952) of `data`,
 * deflated by ISA-L's igzip (Debian: libisal-dev), which has assembly for x86-64 and arm64: on
 * the bench's syslog its level 2 is 3x and its level 3 1.3x as fast as zlib's level 2, at a
 * like ratio (client/src/backup/gzip-member.ts). Data that does not compress comes out as stored
 * blocks. Returns null if the output would not fit the buffer sized for it (a guard: stored
 * blocks always fit), and the caller then deflates with zlib.
 *
 * The 10-byte header is zlib's for a level-2 member (no name, mtime 0, XFL 0, OS 3 = Unix), so
 * a member reads the same whichever library made it; igzip writes the deflate data and the
 * trailer (CRC-32 and size). A Node-API addon: loadable in every worker thread, each with its
 * own scratch buffers (instance data), freed with the thread.
 *
 * storedMember(data: Uint8Array): Buffer -- one gzip member of `data` in stored blocks (level 0:
 * what the backup makes of data that does not compress), byte for byte what zlib's gzipSync
 * makes at level 0 (header XFL 4, blocks of 65535 bytes, the last one final), its CRC-32 by
 * ISA-L (folding with carry-less multiplies). zlib computed that CRC more slowly and set up a
 * whole deflate state (~270 KB, zeroed) for each member; here it is one copy of the data.
 *
 * inflater(): handle, inflate(handle, input, output): [consumed, produced, memberEnded] -- the
 * restore's gunzip (client/src/restore/gunzip.ts): igzip's inflate, about twice as fast as
 * zlib's here, with the CRC-32 and size of each member checked. It runs on the calling thread:
 * the buffers are the caller's, no copy is made. A handle reads the deflate data and trailer of
 * one member after the other, each member's header skipped by the caller (memberEnded: the
 * trailer checked out, the next call starts after the next header).
 */
#include <node_api.h>
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "uint8-array.h"

static const uint8_t HEADER[10] = {0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0x03};

struct scratch {
  uint8_t *level_buf;
  size_t level_size;
  uint8_t *out;
  size_t out_size;
};

static void free_scratch(napi_env env, void *data, void *hint) {
  struct scratch *s = data;
  (void)env;
  (void)hint;
  free(s->level_buf);
  free(s->out);
  free(s);
}

/* Grows *buf to at least `want` bytes; 0 when out of memory. */
static int reserve(uint8_t **buf, size_t *size, size_t want) {
  if (*size >= want) return 1;
  uint8_t *bigger = malloc(want);
  if (!bigger) return 0;
  free(*buf);
  *buf = bigger;
  *size = want;
  return 1;
}

static napi_value fail(napi_env env, const char *message) {
  napi_throw_error(env, "ERR_DEADDROP_IGZIP", message);
  return NULL;
}

/* The bytes of a member's data argument (a Uint8Array, at most 1 GiB), or NULL having thrown. */
static void *member_data(napi_env env, napi_value v, size_t *len, const char *fn) {
  char message[64];
  uint8_t *data = uint8_array_bytes(env, v, len);
  if (!data || *len > 0x40000000) {
    snprintf(message, sizeof message, data ? "%s: more than 1 GiB in one member" : "%s: data must be a Uint8Array", fn);
    fail(env, message);
    return NULL;
  }
  return data;
}

static napi_value gzip_member(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2)
    return fail(env, "gzipMember(data, level): two arguments");
  size_t len;
  void *in = member_data(env, argv[0], &len, "gzipMember");
  if (!in) return NULL;
  int32_t level;
  if (napi_get_value_int32(env, argv[1], &level) != napi_ok || level < 1 || level > 3)
    return fail(env, "gzipMember: level must be 1, 2 or 3");

  struct scratch *s;
  if (napi_get_instance_data(env, (void **)&s) != napi_ok || !s) return fail(env, "gzipMember: not initialised");
  size_t need = level == 1 ? ISAL_DEF_LVL1_DEFAULT : level == 2 ? ISAL_DEF_LVL2_DEFAULT : ISAL_DEF_LVL3_DEFAULT;
  /* room for data that compresses a little; worse than that is zlib's (stored blocks) */
  size_t cap = sizeof HEADER + len + len / 64 + 1024;
  if (!reserve(&s->level_buf, &s->level_size, need) || !reserve(&s->out, &s->out_size, cap))
    return fail(env, "gzipMember: out of memory");

  /* Zeroed first: ISA-L 2.30's isal_deflate_stateless_init leaves hist_bits as it finds it, and
   * stack garbage of 1-14 there shrinks the match window (1-6: no matches at all, members 3x
   * larger), differently from run to run. 0 is ISA-L's default, the whole 32 KiB. */
  struct isal_zstream z;
  memset(&z, 0, sizeof z);
  isal_deflate_stateless_init(&z);
  z.hist_bits = 0;
  z.next_in = in;
  z.avail_in = (uint32_t)len;
  z.next_out = s->out + sizeof HEADER;
  z.avail_out = (uint32_t)(cap - sizeof HEADER);
  z.level = (uint32_t)level;
  z.level_buf = s->level_buf;
  z.level_buf_size = (uint32_t)need;
  z.gzip_flag = IGZIP_GZIP_NO_HDR;
  z.end_of_stream = 1;
  z.flush = NO_FLUSH;
  int rc = isal_deflate_stateless(&z);
  napi_value result;
  if (rc == STATELESS_OVERFLOW) {
    napi_get_null(env, &result);
    return result;
  }
  if (rc != COMP_OK) return fail(env, "gzipMember: isal_deflate_stateless failed");
  memcpy(s->out, HEADER, sizeof HEADER);
  void *copy;
  if (napi_create_buffer_copy(env, sizeof HEADER + z.total_out, s->out, &copy, &result) != napi_ok)
    return fail(env, "gzipMember: out of memory");
  return result;
}

/* Deflate's stored blocks hold at most 65535 bytes: a 5-byte header each (RFC 1951 3.2.4). */
#define STORED_MAX 65535

static napi_value stored_member(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1)
    return fail(env, "storedMember(data): one argument");
  size_t len;
  void *in = member_data(env, argv[0], &len, "storedMember");
  if (!in) return NULL;
  size_t blocks = len == 0 ? 1 : (len + STORED_MAX - 1) / STORED_MAX;
  size_t size = sizeof HEADER + blocks * 5 + len + 8;
  uint8_t *out;
  napi_value result;
  if (napi_create_buffer(env, size, (void **)&out, &result) != napi_ok) return fail(env, "storedMember: out of memory");
  memcpy(out, HEADER, sizeof HEADER);
  out[8] = 4; /* XFL as zlib's level 0: fastest */
  uint8_t *at = out + sizeof HEADER;
  const uint8_t *from = in;
  size_t left = len;
  do {
    size_t n = left < STORED_MAX ? left : STORED_MAX;
    at[0] = n == left; /* BFINAL on the last, BTYPE 00 */
    at[1] = (uint8_t)n;
    at[2] = (uint8_t)(n >> 8);
    at[3] = (uint8_t)~n;
    at[4] = (uint8_t)(~n >> 8);
    memcpy(at + 5, from, n);
    at += 5 + n;
    from += n;
    left -= n;
  } while (left > 0);
  uint32_t crc = crc32_gzip_refl(0, in, len);
  uint32_t isize = (uint32_t)len;
  for (int i = 0; i < 4; i++) {
    at[i] = (uint8_t)(crc >> (8 * i));
    at[4 + i] = (uint8_t)(isize >> (8 * i));
  }
  return result;
}

static void free_inflater(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

/* The caller passes each member from its deflate data on: ISA-L 2.30 parses a gzip header with
 * optional fields (FNAME, FEXTRA, FHCRC) wrongly when it arrives over two calls (a valid member
 * refused, differently from run to run), so restore/gunzip.ts parses headers itself. ISA-L checks
 * the trailer that follows the deflate data: CRC-32 and length. */
static void start_member(struct inflate_state *st) {
  isal_inflate_init(st);
  st->crc_flag = ISAL_GZIP_NO_HDR_VER;
}

static napi_value inflater(napi_env env, napi_callback_info info) {
  (void)info;
  struct inflate_state *st = malloc(sizeof *st);
  if (!st) return fail(env, "inflater: out of memory");
  start_member(st);
  napi_value handle;
  if (napi_create_external(env, st, free_inflater, NULL, &handle) != napi_ok) {
    free(st);
    return fail(env, "inflater: out of memory");
  }
  return handle;
}

static const char *inflate_error(int rc) {
  switch (rc) {
    case ISAL_INVALID_BLOCK: return "invalid deflate block";
    case ISAL_INVALID_SYMBOL: return "invalid deflate symbol";
    case ISAL_INVALID_LOOKBACK: return "invalid back-reference distance";
    case ISAL_INVALID_WRAPPER: return "not a gzip header";
    case ISAL_UNSUPPORTED_METHOD: return "unsupported compression method";
    case ISAL_INCORRECT_CHECKSUM: return "CRC-32 or length of a gzip member does not match its data";
    default: return "inflate failed";
  }
}

static int bytes_of(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type type;
  void *p;
  if (napi_get_typedarray_info(env, v, &type, len, &p, NULL, NULL) != napi_ok || type != napi_uint8_array) return 0;
  *data = p;
  return 1;
}

static napi_value inflate_call(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3)
    return fail(env, "inflate(handle, input, output): three arguments");
  struct inflate_state *st;
  uint8_t *in, *out;
  size_t in_len, out_len;
  if (napi_get_value_external(env, argv[0], (void **)&st) != napi_ok) return fail(env, "inflate: not a handle");
  if (!bytes_of(env, argv[1], &in, &in_len) || !bytes_of(env, argv[2], &out, &out_len))
    return fail(env, "inflate: input and output must be Uint8Arrays");
  if (in_len > 0xffffffffu || out_len > 0xffffffffu) return fail(env, "inflate: buffers of 4 GiB or more");
  st->next_in = in;
  st->avail_in = (uint32_t)in_len;
  st->next_out = out;
  st->avail_out = (uint32_t)out_len;
  int rc = isal_inflate(st);
  if (rc < 0) {
    start_member(st); /* usable again, though the caller gives up */
    napi_throw_error(env, "ERR_DEADDROP_INFLATE", inflate_error(rc));
    return NULL;
  }
  uint32_t consumed = (uint32_t)in_len - st->avail_in;
  uint32_t produced = (uint32_t)out_len - st->avail_out;
  int ended = st->block_state == ISAL_BLOCK_FINISH;
  if (ended) start_member(st);
  napi_value result, v;
  napi_create_array_with_length(env, 3, &result);
  napi_create_uint32(env, consumed, &v);
  napi_set_element(env, result, 0, v);
  napi_create_uint32(env, produced, &v);
  napi_set_element(env, result, 1, v);
  napi_get_boolean(env, ended, &v);
  napi_set_element(env, result, 2, v);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  struct scratch *s = calloc(1, sizeof *s);
  if (!s || napi_set_instance_data(env, s, free_scratch, NULL) != napi_ok) return fail(env, "igzip: out of memory");
  napi_value fn;
  napi_create_function(env, "gzipMember", NAPI_AUTO_LENGTH, gzip_member, NULL, &fn);
  napi_set_named_property(env, exports, "gzipMember", fn);
  napi_create_function(env, "storedMember", NAPI_AUTO_LENGTH, stored_member, NULL, &fn);
  napi_set_named_property(env, exports, "storedMember", fn);
  napi_create_function(env, "inflater", NAPI_AUTO_LENGTH, inflater, NULL, &fn);
  napi_set_named_property(env, exports, "inflater", fn);
  napi_create_function(env, "inflate", NAPI_AUTO_LENGTH, inflate_call, NULL, &fn);
  napi_set_named_property(env, exports, "inflate", fn);
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
