/*
 * A Uint8Array argument's bytes, for the client's addons (md4.c, igzip.c): each throws its own
 * error, naming its own argument, when this returns NULL. One copy: the two had drifted (md4.c
 * once took an empty array with no buffer for a refusal, 754e811).
 */
#ifndef DEADDROP_UINT8_ARRAY_H
#define DEADDROP_UINT8_ARRAY_H
#include <node_api.h>
#include <stdint.h>

/*
 * The bytes of `v` and their count, or NULL when `v` is not a Uint8Array. An empty array may
 * come with no buffer: it gets a pointer that is never read, so it is told from a refusal.
 */
static inline uint8_t *uint8_array_bytes(napi_env env, napi_value v, size_t *len) {
  napi_typedarray_type type;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, len, &data, NULL, NULL) != napi_ok || type != napi_uint8_array)
    return NULL;
  return data ? data : (uint8_t *)"";
}

#endif
