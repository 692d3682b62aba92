/*
 * Digests fed on libuv's thread pool: the restore hashes every stored byte (SHA-256, the sums
 * file) and every decrypted one (SHA-1, the manifest) on its main thread, which also decrypts,
 * inflates, parses and writes; here the hashing runs on another core meanwhile.
 * (client/src/native/digest.ts).
 *
 * digest(name): handle -- "sha1", "sha256" or "md5", OpenSSL's (Node's own: Node exports its
 * libcrypto's symbols to addons, and ships their headers beside node_api.h).
 * update(handle, data, done(err)) -- hashes `data` on the pool, then calls done on the JS thread.
 * One update at a time per handle (the caller queues); `data` is kept alive until done.
 * final(handle): Buffer -- the digest; the handle is spent.
 */
#include <node_api.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

struct digest {
  EVP_MD_CTX *ctx;
  int busy;
  int failed;
};

struct job {
  struct digest *d;
  const uint8_t *data;
  size_t len;
  int ok;
  napi_ref keep;     /* the data's buffer, alive until done */
  napi_ref callback; /* done(err) */
  napi_async_work work;
};

static napi_value fail(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

static void free_digest(napi_env env, void *data, void *hint) {
  struct digest *d = data;
  (void)env;
  (void)hint;
  EVP_MD_CTX_free(d->ctx);
  free(d);
}

static napi_value digest_new(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  char name[16];
  size_t len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok)
    return fail(env, "digest: digest(name)");
  const EVP_MD *md = strcmp(name, "sha1") == 0     ? EVP_sha1()
                     : strcmp(name, "sha256") == 0 ? EVP_sha256()
                     : strcmp(name, "md5") == 0    ? EVP_md5()
                                                   : NULL;
  if (!md) return fail(env, "digest: unknown digest name");
  struct digest *d = calloc(1, sizeof *d);
  if (!d || !(d->ctx = EVP_MD_CTX_new()) || EVP_DigestInit_ex(d->ctx, md, NULL) != 1) {
    if (d) EVP_MD_CTX_free(d->ctx);
    free(d);
    return fail(env, "digest: cannot start the digest");
  }
  if (napi_create_external(env, d, free_digest, NULL, &out) != napi_ok) {
    free_digest(env, d, NULL);
    return fail(env, "digest: out of memory");
  }
  return out;
}

static struct digest *digest_of(napi_env env, napi_value v) {
  void *d = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &d) != napi_ok)
    return NULL;
  return d;
}

static void update_execute(napi_env env, void *data) {
  struct job *j = data;
  (void)env;
  j->ok = EVP_DigestUpdate(j->d->ctx, j->data, j->len) == 1;
}

static void update_complete(napi_env env, napi_status status, void *data) {
  struct job *j = data;
  napi_value callback, global, err = NULL, undefined;
  j->d->busy = 0;
  if (status != napi_ok || !j->ok) j->d->failed = 1;
  napi_get_reference_value(env, j->callback, &callback);
  napi_get_global(env, &global);
  napi_get_undefined(env, &undefined);
  if (j->d->failed) {
    napi_value message;
    napi_create_string_utf8(env, "digest: update failed", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &err);
  }
  napi_delete_reference(env, j->keep);
  napi_delete_reference(env, j->callback);
  napi_delete_async_work(env, j->work);
  free(j);
  napi_call_function(env, global, callback, 1, err ? &err : &undefined, NULL);
}

static napi_value update(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], name;
  void *data;
  size_t len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3)
    return fail(env, "digest: update(handle, data, done)");
  struct digest *d = digest_of(env, argv[0]);
  if (!d) return fail(env, "digest: not a digest handle");
  if (d->busy) return fail(env, "digest: an update is under way");
  if (napi_get_typedarray_info(env, argv[1], NULL, &len, &data, NULL, NULL) != napi_ok)
    return fail(env, "digest: data must be a Uint8Array");
  struct job *j = calloc(1, sizeof *j);
  if (!j) return fail(env, "digest: out of memory");
  j->d = d;
  j->data = data;
  j->len = len;
  napi_create_reference(env, argv[1], 1, &j->keep);
  napi_create_reference(env, argv[2], 1, &j->callback);
  napi_create_string_utf8(env, "deaddrop.digest", NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(env, NULL, name, update_execute, update_complete, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    napi_delete_reference(env, j->keep);
    napi_delete_reference(env, j->callback);
    free(j);
    return fail(env, "digest: cannot queue the update");
  }
  d->busy = 1;
  return NULL;
}

static napi_value final(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  void *copy;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1)
    return fail(env, "digest: final(handle)");
  struct digest *d = digest_of(env, argv[0]);
  if (!d) return fail(env, "digest: not a digest handle");
  if (d->busy) return fail(env, "digest: an update is under way");
  if (d->failed || EVP_DigestFinal_ex(d->ctx, md, &len) != 1) return fail(env, "digest: failed");
  d->failed = 1; /* spent: a digest is taken once */
  if (napi_create_buffer_copy(env, len, md, &copy, &out) != napi_ok) return fail(env, "digest: out of memory");
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "digest", NAPI_AUTO_LENGTH, digest_new, NULL, &fn);
  napi_set_named_property(env, exports, "digest", fn);
  napi_create_function(env, "update", NAPI_AUTO_LENGTH, update, NULL, &fn);
  napi_set_named_property(env, exports, "update", fn);
  napi_create_function(env, "final", NAPI_AUTO_LENGTH, final, NULL, &fn);
  napi_set_named_property(env, exports, "final", fn);
  return exports;
}
