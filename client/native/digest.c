/*
 * Digests fed on libuv's thread pool: the restore hashes every stored byte (SHA-256, the sums
 * file) and every decrypted one (SHA-1, the manifest) on its main thread, which also decrypts,
 * inflates, parses and writes; here the hashing runs on another core meanwhile.
 * (client/src/native/digest.ts).
 *
 * digest(name): handle -- "sha1", "sha256" or "md5", OpenSSL's (Node's own: Node exports its
 * libcrypto's symbols to addons, and ships their headers beside node_api.h).
 * update(handle, data, done(err)) -- copies `data` and queues it; it is hashed on the pool, in
 * the order given, one at a time per handle, and done called on the JS thread after. A copy, not
 * a reference: a Buffer held while it waits for the pool outlives the young generation's
 * scavenges and then stays until a full GC (common/young-gc.ts); the copy is a memcpy on the JS
 * thread and is freed when hashed.
 * final(handle): Buffer -- the digest; the handle is spent.
 */
#include <node_api.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

struct job;

struct digest {
  EVP_MD_CTX *ctx;
  struct job *head, *tail; /* queued, in order; the head is on the pool while busy */
  int busy;
  int failed;
};

struct job {
  struct digest *d;
  struct job *next;
  uint8_t *data; /* the copy */
  size_t len;
  int ok;
  napi_ref handle;   /* the digest's handle, alive until done */
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

static void free_job(napi_env env, struct job *j) {
  if (j->handle) napi_delete_reference(env, j->handle);
  if (j->callback) napi_delete_reference(env, j->callback);
  if (j->work) napi_delete_async_work(env, j->work);
  free(j->data);
  free(j);
}

static void update_complete(napi_env env, napi_status status, void *data);

/* Put the queue's head on the pool; 0 when it could not be queued. */
static int start_head(napi_env env, struct digest *d) {
  napi_value name;
  struct job *j = d->head;
  napi_create_string_utf8(env, "deaddrop.digest", NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(env, NULL, name, update_execute, update_complete, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok)
    return 0;
  d->busy = 1;
  return 1;
}

static void call_done(napi_env env, napi_ref callback, int failed) {
  napi_value fn, global, arg;
  napi_get_reference_value(env, callback, &fn);
  napi_get_global(env, &global);
  if (failed) {
    napi_value message;
    napi_create_string_utf8(env, "digest: update failed", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &arg);
  } else
    napi_get_undefined(env, &arg);
  napi_call_function(env, global, fn, 1, &arg, NULL);
}

static void update_complete(napi_env env, napi_status status, void *data) {
  struct job *j = data;
  struct digest *d = j->d;
  d->busy = 0;
  d->head = j->next;
  if (!d->head) d->tail = NULL;
  if (status != napi_ok || !j->ok) d->failed = 1;
  /* the next one goes to the pool before this one's callback runs JS */
  if (d->head && !d->failed && !start_head(env, d)) d->failed = 1;
  napi_ref callback = j->callback;
  j->callback = NULL;
  int failed = d->failed;
  /* a failed digest's queue is dropped: each waiting update is told */
  struct job *rest = failed ? d->head : NULL;
  if (failed) d->head = d->tail = NULL;
  free_job(env, j);
  call_done(env, callback, failed);
  napi_delete_reference(env, callback);
  while (rest) {
    struct job *next = rest->next;
    call_done(env, rest->callback, 1);
    free_job(env, rest);
    rest = next;
  }
}

static napi_value update(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  void *data;
  size_t len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3)
    return fail(env, "digest: update(handle, data, done)");
  struct digest *d = digest_of(env, argv[0]);
  if (!d) return fail(env, "digest: not a digest handle");
  if (d->failed) return fail(env, "digest: failed");
  if (napi_get_typedarray_info(env, argv[1], NULL, &len, &data, NULL, NULL) != napi_ok)
    return fail(env, "digest: data must be a Uint8Array");
  struct job *j = calloc(1, sizeof *j);
  if (!j || !(j->data = malloc(len ? len : 1))) {
    free(j);
    return fail(env, "digest: out of memory");
  }
  if (len) memcpy(j->data, data, len);
  j->d = d;
  j->len = len;
  napi_create_reference(env, argv[0], 1, &j->handle);
  napi_create_reference(env, argv[2], 1, &j->callback);
  if (d->tail)
    d->tail->next = j;
  else
    d->head = j;
  d->tail = j;
  if (!d->busy && d->head == j && !start_head(env, d)) {
    d->head = d->tail = NULL;
    free_job(env, j);
    return fail(env, "digest: cannot queue the update");
  }
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
  if (d->busy || d->head) return fail(env, "digest: an update is under way");
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
