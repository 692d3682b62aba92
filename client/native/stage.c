/*
 * Restored files made on libuv's thread pool, a batch at a time (client/src/restore/stage-files.ts):
 *   batch(): handle -- an empty batch.
 *   add(handle, path, data, hole, size, mode, uid, gid, mtime): number -- one more file, its data
 *     copied; returns the batch's count of files.
 *   submit(handle, done(err)) -- the batch's files made on the pool, in order, then done(err)
 *     on the JS thread with the first error (the files after it are not made); the handle is
 *     empty again, for the next batch.
 * Each file: open (O_EXCL), its bytes written (or, `hole`, only its size set: the file is all
 * zeros), then owner (unless both ids are -1), mode and mtime set on the open file, closed.
 *
 * Why: a restore of many small files spends most of its main thread in the kernel creating
 * them (bench restore, 20,000 files: openat, pwrite, fchown, fchmod, utimensat, close about
 * 1.2 s of 4 s). Here that runs on other cores. Batches, because a job of its own per file
 * cost the main thread half of what it saved (queueing, waking a pool thread, the callback).
 * `data` is copied at the call, so the caller's buffer is free at once (a JS buffer held by a
 * job until it ends would outlive scavenges).
 * The same system calls, in the same order, as apply.ts makes for a file it writes itself.
 */
#include <node_api.h>
#include <uv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct file {
  char *path;
  uint8_t *data;
  size_t len;
  int hole;
  int64_t size;
  uint32_t mode;
  int64_t uid, gid;
  struct timespec times[2];
};

struct batch {
  struct file *files;
  size_t count, room;
};

struct job {
  struct batch files;
  size_t failed_at;
  int err;
  const char *syscall;
  napi_ref callback;
  napi_async_work work;
};

static napi_value fail(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

/* As libuv converts fs.futimes' seconds (uv__fs_to_timespec): microseconds, floored. */
static struct timespec to_timespec(double t) {
  struct timespec ts;
  ts.tv_sec = (time_t)t;
  ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
  ts.tv_nsec -= ts.tv_nsec % 1000;
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000;
    ts.tv_sec -= 1;
  }
  return ts;
}

static void free_files(struct batch *b) {
  for (size_t i = 0; i < b->count; i++) {
    free(b->files[i].path);
    free(b->files[i].data);
  }
  free(b->files);
  b->files = NULL;
  b->count = b->room = 0;
}

static int failed(struct job *j, const char *syscall) {
  j->err = errno;
  j->syscall = syscall;
  return 0;
}

static int write_all(struct job *j, struct file *f, int fd) {
  size_t at = 0;
  while (at < f->len) {
    ssize_t n = write(fd, f->data + at, f->len - at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed(j, "write");
    at += (size_t)n;
  }
  return 1;
}

static int make(struct job *j, struct file *f) {
  int fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return failed(j, "open");
  int ok = f->hole ? (ftruncate(fd, f->size) == 0 || failed(j, "ftruncate")) : write_all(j, f, fd);
  /* -1 leaves that id as it is, as fchown(2) takes it (and node:fs's fchownSync) */
  if (ok && (f->uid != -1 || f->gid != -1)) ok = fchown(fd, (uid_t)f->uid, (gid_t)f->gid) == 0 || failed(j, "fchown");
  if (ok) ok = fchmod(fd, f->mode) == 0 || failed(j, "fchmod");
  if (ok) ok = futimens(fd, f->times) == 0 || failed(j, "futime");
  if (close(fd) != 0 && ok) ok = failed(j, "close");
  return ok;
}

static void execute(napi_env env, void *data) {
  struct job *j = data;
  (void)env;
  for (j->failed_at = 0; j->failed_at < j->files.count; j->failed_at++)
    if (!make(j, &j->files.files[j->failed_at])) return;
}

/* An Error as Node's fs makes them: "ENOSPC: no space left on device, write 'PATH'", code, errno, syscall, path. */
static napi_value fs_error(napi_env env, struct job *j) {
  napi_value err, message, code, errnum, syscall, path;
  const char *where = j->failed_at < j->files.count ? j->files.files[j->failed_at].path : "";
  char text[4096 + 128];
  snprintf(text, sizeof text, "%s: %s, %s '%s'", uv_err_name(-j->err), uv_strerror(-j->err), j->syscall, where);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  napi_create_string_utf8(env, uv_err_name(-j->err), NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, message, &err);
  napi_create_int32(env, -j->err, &errnum);
  napi_set_named_property(env, err, "errno", errnum);
  napi_create_string_utf8(env, j->syscall, NAPI_AUTO_LENGTH, &syscall);
  napi_set_named_property(env, err, "syscall", syscall);
  napi_create_string_utf8(env, where, NAPI_AUTO_LENGTH, &path);
  napi_set_named_property(env, err, "path", path);
  return err;
}

static void free_job(napi_env env, struct job *j) {
  if (j->callback) napi_delete_reference(env, j->callback);
  if (j->work) napi_delete_async_work(env, j->work);
  free_files(&j->files);
  free(j);
}

static void complete(napi_env env, napi_status status, void *data) {
  struct job *j = data;
  napi_value callback, global, arg;
  napi_get_reference_value(env, j->callback, &callback);
  napi_get_global(env, &global);
  if (status != napi_ok && !j->err) {
    j->err = ECANCELED;
    j->syscall = "stage";
  }
  if (j->err)
    arg = fs_error(env, j);
  else
    napi_get_undefined(env, &arg);
  free_job(env, j);
  napi_call_function(env, global, callback, 1, &arg, NULL);
}

static void free_batch(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free_files(data);
  free(data);
}

static struct batch *batch_of(napi_env env, napi_value v) {
  void *b = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &b) != napi_ok)
    return NULL;
  return b;
}

static napi_value batch_new(napi_env env, napi_callback_info info) {
  napi_value out;
  (void)info;
  struct batch *b = calloc(1, sizeof *b);
  if (!b) return fail(env, "stage: out of memory");
  if (napi_create_external(env, b, free_batch, NULL, &out) != napi_ok) {
    free(b);
    return fail(env, "stage: out of memory");
  }
  return out;
}

static napi_value add(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9], out;
  void *bytes;
  size_t len, path_len;
  bool hole;
  double size, mtime;
  uint32_t mode;
  int64_t uid, gid;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 9)
    return fail(env, "stage: add(batch, path, data, hole, size, mode, uid, gid, mtime)");
  struct batch *b = batch_of(env, argv[0]);
  if (!b) return fail(env, "stage: not a batch");
  if (napi_get_value_string_utf8(env, argv[1], NULL, 0, &path_len) != napi_ok ||
      napi_get_typedarray_info(env, argv[2], NULL, &len, &bytes, NULL, NULL) != napi_ok ||
      napi_get_value_bool(env, argv[3], &hole) != napi_ok || napi_get_value_double(env, argv[4], &size) != napi_ok ||
      napi_get_value_uint32(env, argv[5], &mode) != napi_ok || napi_get_value_int64(env, argv[6], &uid) != napi_ok ||
      napi_get_value_int64(env, argv[7], &gid) != napi_ok || napi_get_value_double(env, argv[8], &mtime) != napi_ok)
    return fail(env, "stage: path (string), data (Uint8Array), hole, size, mode, uid, gid, mtime");
  if (b->count == b->room) {
    size_t room = b->room ? 2 * b->room : 32;
    struct file *more = realloc(b->files, room * sizeof *more);
    if (!more) return fail(env, "stage: out of memory");
    b->files = more;
    b->room = room;
  }
  struct file *f = &b->files[b->count];
  memset(f, 0, sizeof *f);
  f->path = malloc(path_len + 1);
  f->data = malloc(len ? len : 1);
  if (!f->path || !f->data) {
    free(f->path);
    free(f->data);
    return fail(env, "stage: out of memory");
  }
  napi_get_value_string_utf8(env, argv[1], f->path, path_len + 1, &path_len);
  if (len) memcpy(f->data, bytes, len); /* an empty array's data may be NULL */
  f->len = len;
  f->hole = hole;
  f->size = (int64_t)size;
  f->mode = mode;
  f->uid = uid;
  f->gid = gid;
  f->times[0] = f->times[1] = to_timespec(mtime);
  b->count++;
  napi_create_uint32(env, (uint32_t)b->count, &out);
  return out;
}

static napi_value submit(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], name;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2)
    return fail(env, "stage: submit(batch, done)");
  struct batch *b = batch_of(env, argv[0]);
  if (!b) return fail(env, "stage: not a batch");
  struct job *j = calloc(1, sizeof *j);
  if (!j) return fail(env, "stage: out of memory");
  j->files = *b; /* the job takes the files; the batch starts again empty */
  memset(b, 0, sizeof *b);
  napi_create_reference(env, argv[1], 1, &j->callback);
  napi_create_string_utf8(env, "deaddrop.stage", NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(env, NULL, name, execute, complete, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    free_job(env, j);
    return fail(env, "stage: cannot queue the batch");
  }
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "batch", NAPI_AUTO_LENGTH, batch_new, NULL, &fn);
  napi_set_named_property(env, exports, "batch", fn);
  napi_create_function(env, "add", NAPI_AUTO_LENGTH, add, NULL, &fn);
  napi_set_named_property(env, exports, "add", fn);
  napi_create_function(env, "submit", NAPI_AUTO_LENGTH, submit, NULL, &fn);
  napi_set_named_property(env, exports, "submit", fn);
  return exports;
}
