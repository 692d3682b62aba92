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
 *
 *   writeOut(fd, data, length, position, settleFrom, settleTo, done(err)) -- a big file's piece
 *     (restore/write-behind.ts), on the pool: data[0, length) written at `position` and its
 *     writeback to disk started; then, unless settleFrom is -1, the file's bytes [settleFrom,
 *     settleTo) waited for on their way to disk and dropped from the page cache (the pieces
 *     before this one; a file's last piece, itself too). `data` must not change until done.
 * Why: a restore left all it wrote in the page cache, gigabytes of another host's files that
 * push out what the machine restoring them uses, and each new page costs the kernel a first
 * touch of memory (bench restore of 1 GiB on this VM: 2-4 s of system time). Written out and
 * dropped as they go, a big file's pages are reused for the next piece: that restore took
 * 3.61-3.89 s against 5.52-5.71 s. (Small files are left to the kernel: started and waited for
 * per file, 20,000 of them made it no faster.)
 */
#define _GNU_SOURCE /* sync_file_range */
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

/*
 * An Error as Node's fs makes them: "ENOSPC: no space left on device, write 'PATH'", code,
 * errno, syscall, path; without a path (NULL) as fs.write's: "EBADF: bad file descriptor, write".
 */
static napi_value fs_error(napi_env env, int errnum, const char *syscall, const char *path) {
  napi_value err, message, code, value;
  char text[4096 + 128];
  if (path)
    snprintf(text, sizeof text, "%s: %s, %s '%s'", uv_err_name(-errnum), uv_strerror(-errnum), syscall, path);
  else
    snprintf(text, sizeof text, "%s: %s, %s", uv_err_name(-errnum), uv_strerror(-errnum), syscall);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  napi_create_string_utf8(env, uv_err_name(-errnum), NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, message, &err);
  napi_create_int32(env, -errnum, &value);
  napi_set_named_property(env, err, "errno", value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, err, "syscall", value);
  if (path) {
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &value);
    napi_set_named_property(env, err, "path", value);
  }
  return err;
}

static void free_job(napi_env env, struct job *j) {
  if (j->callback) napi_delete_reference(env, j->callback);
  if (j->work) napi_delete_async_work(env, j->work);
  free_files(&j->files);
  free(j);
}

/* The JS callback `ref` holds, and the error for `err` (0: undefined), taken before the job is freed. */
static void callback_of(napi_env env, napi_ref ref, int err, const char *syscall, const char *path,
                        napi_value *callback, napi_value *arg) {
  napi_get_reference_value(env, ref, callback);
  if (err)
    *arg = fs_error(env, err, syscall, path);
  else
    napi_get_undefined(env, arg);
}

static void call(napi_env env, napi_value callback, napi_value arg) {
  napi_value global;
  napi_get_global(env, &global);
  napi_call_function(env, global, callback, 1, &arg, NULL);
}

static void complete(napi_env env, napi_status status, void *data) {
  struct job *j = data;
  napi_value callback, arg;
  if (status != napi_ok && !j->err) {
    j->err = ECANCELED;
    j->syscall = "stage";
  }
  const char *path = j->failed_at < j->files.count ? j->files.files[j->failed_at].path : "";
  callback_of(env, j->callback, j->err, j->syscall, path, &callback, &arg);
  free_job(env, j);
  call(env, callback, arg);
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

struct piece {
  int fd;
  const uint8_t *data;
  size_t len;
  int64_t position, settle_from, settle_to;
  int err;
  const char *syscall;
  napi_ref buffer, callback;
  napi_async_work work;
};

/*
 * Writeback waited for, then the pages dropped. Only an error of the data's way to disk counts
 * (EIO, ENOSPC: what fsync would report); a file system or kernel that cannot do this (EINVAL,
 * ESPIPE, ENOSYS) is left to keep its pages. posix_fadvise is advice: its result is not checked.
 */
static void settle(struct piece *p) {
  off_t from = p->settle_from, len = p->settle_to - p->settle_from;
#ifdef SYNC_FILE_RANGE_WRITE
  unsigned flags = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
  if (sync_file_range(p->fd, from, len, flags) != 0 && (errno == EIO || errno == ENOSPC)) {
    p->err = errno;
    p->syscall = "sync_file_range";
    return;
  }
#endif
  posix_fadvise(p->fd, from, len, POSIX_FADV_DONTNEED);
}

static void piece_execute(napi_env env, void *data) {
  struct piece *p = data;
  (void)env;
  size_t at = 0;
  while (at < p->len) {
    ssize_t n = pwrite(p->fd, p->data + at, p->len - at, (off_t)(p->position + (int64_t)at));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      p->err = errno;
      p->syscall = "write";
      return;
    }
    at += (size_t)n;
  }
#ifdef SYNC_FILE_RANGE_WRITE
  /* started now, so that it is done or nearly so when the next piece settles this one */
  if (p->len) sync_file_range(p->fd, (off_t)p->position, (off_t)p->len, SYNC_FILE_RANGE_WRITE);
#endif
  if (p->settle_from >= 0 && p->settle_from < p->settle_to) settle(p);
}

static void free_piece(napi_env env, struct piece *p) {
  if (p->buffer) napi_delete_reference(env, p->buffer);
  if (p->callback) napi_delete_reference(env, p->callback);
  if (p->work) napi_delete_async_work(env, p->work);
  free(p);
}

static void piece_complete(napi_env env, napi_status status, void *data) {
  struct piece *p = data;
  napi_value callback, arg;
  if (status != napi_ok && !p->err) {
    p->err = ECANCELED;
    p->syscall = "write";
  }
  callback_of(env, p->callback, p->err, p->syscall, NULL, &callback, &arg);
  free_piece(env, p);
  call(env, callback, arg);
}

static int is_offset(double v) { return v >= 0 && v <= 9007199254740991.0 && v == (double)(int64_t)v; }

static napi_value write_out(napi_env env, napi_callback_info info) {
  size_t argc = 7, have;
  napi_value argv[7], name;
  int32_t fd;
  double length, position, settle_from, settle_to;
  void *bytes;
  napi_valuetype t;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 7)
    return fail(env, "stage: writeOut(fd, data, length, position, settleFrom, settleTo, done)");
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 ||
      napi_get_typedarray_info(env, argv[1], NULL, &have, &bytes, NULL, NULL) != napi_ok ||
      napi_get_value_double(env, argv[2], &length) != napi_ok || !is_offset(length) || length > (double)have ||
      napi_get_value_double(env, argv[3], &position) != napi_ok || !is_offset(position) ||
      napi_get_value_double(env, argv[4], &settle_from) != napi_ok ||
      napi_get_value_double(env, argv[5], &settle_to) != napi_ok ||
      !(settle_from == -1 || (is_offset(settle_from) && is_offset(settle_to) && settle_from <= settle_to &&
                              settle_to <= position + length)) ||
      napi_typeof(env, argv[6], &t) != napi_ok || t != napi_function)
    return fail(env, "stage: writeOut: fd, data (Uint8Array), length <= data's, position, settleFrom -1 or "
                     "<= settleTo <= position + length, done");
  struct piece *p = calloc(1, sizeof *p);
  if (!p) return fail(env, "stage: out of memory");
  p->fd = fd;
  p->data = bytes;
  p->len = (size_t)length;
  p->position = (int64_t)position;
  p->settle_from = (int64_t)settle_from;
  p->settle_to = (int64_t)settle_to;
  napi_create_string_utf8(env, "deaddrop.writeOut", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[1], 1, &p->buffer) != napi_ok ||
      napi_create_reference(env, argv[6], 1, &p->callback) != napi_ok ||
      napi_create_async_work(env, NULL, name, piece_execute, piece_complete, p, &p->work) != napi_ok ||
      napi_queue_async_work(env, p->work) != napi_ok) {
    free_piece(env, p);
    return fail(env, "stage: cannot queue the write");
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
  napi_create_function(env, "writeOut", NAPI_AUTO_LENGTH, write_out, NULL, &fn);
  napi_set_named_property(env, exports, "writeOut", fn);
  return exports;
}
