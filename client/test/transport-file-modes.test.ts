/**
 * A file:// sink on a file system without Unix modes (vfat, exfat: a USB disk) refuses every
 * chmod and fchmod that would change a file's mode, even to root. vfat cannot be mounted here,
 * so a small LD_PRELOAD library gives chmod/fchmod that answer (EPERM) under one directory, as
 * the kernel does on such a mount; the kernel copy (copyFile sets the spool file's mode) then
 * fails and the sink must still take the file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { missingTools, seededBytes, tempDir } from '@deaddrop/test';

const SHIM = `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
static int under(const char *p) {
  const char *d = getenv("NOMODE_DIR");
  return d && p && strncmp(p, d, strlen(d)) == 0;
}
static int fd_under(int fd) {
  char link[64], target[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n < 0) return 0;
  target[n] = 0;
  return under(target);
}
int chmod(const char *p, mode_t m) {
  if (under(p)) { errno = EPERM; return -1; }
  int (*next)(const char *, mode_t) = dlsym(RTLD_NEXT, "chmod");
  return next(p, m);
}
int fchmod(int fd, mode_t m) {
  if (fd_under(fd)) { errno = EPERM; return -1; }
  int (*next)(int, mode_t) = dlsym(RTLD_NEXT, "fchmod");
  return next(fd, m);
}
`;

test(
  'a file:// sink that refuses modes (vfat) still takes a file, copied by this thread',
  { skip: missingTools('cc') },
  () => {
    const dir = tempDir('deaddrop-nomode-');
    writeFileSync(join(dir, 'nomode.c'), SHIM);
    const cc = spawnSync('cc', ['-shared', '-fPIC', '-o', join(dir, 'nomode.so'), join(dir, 'nomode.c'), '-ldl']);
    assert.equal(cc.status, 0, String(cc.stderr));
    const usb = join(dir, 'usb');
    mkdirSync(usb);
    const data = seededBytes('vfat', 300_000);
    writeFileSync(join(dir, 'spooled'), data);
    const module = pathToFileURL(join(import.meta.dirname, '../dist/transport/file-target.js')).href;
    const code = `
    import { chmodSync } from 'node:fs';
    import { FileTarget } from ${JSON.stringify(module)};
    // the shim works: a mode change under the directory is refused
    try { chmodSync(${JSON.stringify(usb)}, 0o755); console.log('chmod allowed'); } catch (e) { console.log('chmod', e.code); }
    const t = new FileTarget('usb', ${JSON.stringify(pathToFileURL(usb).href + '/')});
    console.log(await t.putFile('vol1', ${JSON.stringify(join(dir, 'spooled'))}, ${data.length}));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
      env: { ...process.env, LD_PRELOAD: join(dir, 'nomode.so'), NOMODE_DIR: usb },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['chmod EPERM', 'created']);
    assert.deepEqual(readFileSync(join(usb, 'vol1')), data);
    assert.deepEqual(readdirSync(usb), ['vol1'], 'no temp file left');
  },
);
