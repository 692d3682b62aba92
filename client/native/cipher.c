/*
 * CMS content decryption into the caller's buffers (client/src/native/cipher.ts): node:crypto's
 * Decipher makes a new Buffer for every update, which the restore then holds across scavenges
 * until a full GC; here the output goes where the caller says, into a few buffers reused in turn.
 * The same OpenSSL as node:crypto's (Node exports its libcrypto's symbols to addons).
 *
 * decipher(name, key, iv): handle -- an OpenSSL cipher name ("aes-256-cbc", "des-ede3-cbc"),
 *   PKCS#7 padding checked at the end, as createDecipheriv does.
 * update(handle, input, output): bytes written -- output must hold input's length plus a block.
 * final(handle, output): bytes written -- throws "bad decrypt" for wrong padding; the handle is spent.
 * Synchronous: AES-CBC decryption is fast enough for the JS thread, as it was with node:crypto.
 */
#include <node_api.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

static napi_value fail(napi_env env, const char *message) {
  ERR_clear_error(); /* not left for node:crypto's next call to find */
  napi_throw_error(env, NULL, message);
  return NULL;
}

static void free_ctx(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  EVP_CIPHER_CTX_free(data);
}

static int bytes_of(napi_env env, napi_value v, void **data, size_t *len) {
  return napi_get_typedarray_info(env, v, NULL, len, data, NULL, NULL) == napi_ok;
}

static EVP_CIPHER_CTX *ctx_of(napi_env env, napi_value v) {
  void *ctx = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &ctx) != napi_ok)
    return NULL;
  return ctx;
}

static napi_value decipher_new(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], out;
  char name[32];
  size_t name_len = 0, key_len, iv_len;
  void *key, *iv;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      napi_get_value_string_utf8(env, argv[0], name, sizeof name, &name_len) != napi_ok ||
      !bytes_of(env, argv[1], &key, &key_len) || !bytes_of(env, argv[2], &iv, &iv_len))
    return fail(env, "cipher: decipher(name, key, iv)");
  const EVP_CIPHER *cipher = EVP_get_cipherbyname(name);
  if (!cipher) return fail(env, "cipher: unknown cipher");
  if ((int)key_len != EVP_CIPHER_get_key_length(cipher) || (int)iv_len != EVP_CIPHER_get_iv_length(cipher))
    return fail(env, "cipher: wrong key or IV length");
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx || EVP_DecryptInit_ex(ctx, cipher, NULL, key, iv) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return fail(env, "cipher: cannot start the cipher");
  }
  if (napi_create_external(env, ctx, free_ctx, NULL, &out) != napi_ok) {
    EVP_CIPHER_CTX_free(ctx);
    return fail(env, "cipher: out of memory");
  }
  return out;
}

static napi_value written(napi_env env, int n) {
  napi_value out;
  napi_create_int32(env, n, &out);
  return out;
}

static napi_value update(napi_env env, napi_callback_info info) {
  size_t argc = 3, in_len, out_len;
  napi_value argv[3];
  void *in, *out;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3)
    return fail(env, "cipher: update(handle, input, output)");
  EVP_CIPHER_CTX *ctx = ctx_of(env, argv[0]);
  if (!ctx) return fail(env, "cipher: not a cipher handle");
  if (!bytes_of(env, argv[1], &in, &in_len) || !bytes_of(env, argv[2], &out, &out_len))
    return fail(env, "cipher: input and output must be Uint8Arrays");
  if (in_len > INT32_MAX / 2 || out_len < in_len + (size_t)EVP_CIPHER_CTX_get_block_size(ctx))
    return fail(env, "cipher: output too small");
  int n = 0;
  if (EVP_DecryptUpdate(ctx, out, &n, in, (int)in_len) != 1) return fail(env, "cipher: update failed");
  return written(env, n);
}

static napi_value final(napi_env env, napi_callback_info info) {
  size_t argc = 2, out_len;
  napi_value argv[2];
  void *out;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2)
    return fail(env, "cipher: final(handle, output)");
  EVP_CIPHER_CTX *ctx = ctx_of(env, argv[0]);
  if (!ctx) return fail(env, "cipher: not a cipher handle");
  if (!bytes_of(env, argv[1], &out, &out_len) || out_len < (size_t)EVP_CIPHER_CTX_get_block_size(ctx))
    return fail(env, "cipher: output too small");
  int n = 0;
  if (EVP_DecryptFinal_ex(ctx, out, &n) != 1) return fail(env, "bad decrypt");
  return written(env, n);
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "decipher", NAPI_AUTO_LENGTH, decipher_new, NULL, &fn);
  napi_set_named_property(env, exports, "decipher", fn);
  napi_create_function(env, "update", NAPI_AUTO_LENGTH, update, NULL, &fn);
  napi_set_named_property(env, exports, "update", fn);
  napi_create_function(env, "final", NAPI_AUTO_LENGTH, final, NULL, &fn);
  napi_set_named_property(env, exports, "final", fn);
  return exports;
}
