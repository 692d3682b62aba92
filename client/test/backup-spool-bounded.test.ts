/**
 * The spool holds what some sink still lacks, not the whole set: a volume every sink took
 * leaves the archive dir at once (backup/sent-everywhere.ts). A set bigger than the archive
 * dir's file system goes through; a sink that fills up part way gets the rest from the spool
 * at the next run and then restores alone; a run that fails for want of space gives the
 * space of its unfinished set back and says which file it could not write. Needs root
 * (mount -t tmpfs for the small file systems), as in CI.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTestRecipient, needsRoot, runDeaddrop, seededBytes, tempDir } from '@deaddrop/test';
import { compareTrees } from '@deaddrop/test/compare-trees';

const ROOT_AND_TMPFS = needsRoot('mount -t tmpfs', 'mount', 'umount', 'openssl');

/** `dir` made a tmpfs of `size` (mount's notation: 12m) until `umount` is called. */
function smallDisk(dir: string, size: string): { umount: () => void; resize: (size: string) => void } {
  mkdirSync(dir, { recursive: true });
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  assert.equal(m.status, 0, m.stderr.toString());
  return {
    umount: () => assert.equal(spawnSync('umount', [dir]).status, 0, `umount ${dir}`),
    resize: (to) => {
      const r = spawnSync('mount', ['-o', `remount,size=${to}`, dir]);
      assert.equal(r.status, 0, r.stderr.toString());
    },
  };
}

/** A host h1 with 20 MB of data that does not compress, volumes of 3 MB, two file:// sinks A and B. */
async function twoSinkHost(prefix: string) {
  const tmp = tempDir(prefix);
  const src = join(tmp, 'src');
  mkdirSync(src);
  for (let i = 0; i < 6; i++) writeFileSync(join(src, `f${i}.bin`), seededBytes(`f${i}`, 3_300_000));
  const key = await makeTestRecipient(join(tmp, 'keys'), { bits: 2048 });
  const sinkDir = (name: string) => join(tmp, `sink${name}`, 'h1');
  const archiveDir = join(tmp, 'archive');
  const config = join(tmp, 'client.json');
  /** client.json, with `extra` fields; `down` sinks' directories are not made (not mounted). */
  const write = (extra: Record<string, unknown> = {}, down: string[] = []) => {
    for (const s of ['A', 'B']) if (!down.includes(s)) mkdirSync(sinkDir(s), { recursive: true });
    writeFileSync(
      config,
      JSON.stringify({
        host: 'h1',
        sources: [src],
        recipients: [key.certPath],
        sinks: ['A', 'B'].map((name) => ({ name, url: `file://${sinkDir(name)}/` })),
        archiveDir,
        volumeSize: '3MB',
        ...extra,
      }),
    );
  };
  const restoreFrom = async (sink: string) => {
    const dest = join(tmp, `restored-${sink}-${Date.now()}`);
    const r = await runDeaddrop(['restore', '--from', sinkDir(sink), '--host', 'h1', '--key', key.keyPath,
      '--passphrase-file', key.passphraseFile, '--to', dest]); // prettier-ignore
    assert.equal(r.code, 0, r.stderr);
    return dest;
  };
  return { tmp, src, config, archiveDir, sinkDir, write, restoreFrom };
}

const backup = (config: string, ...args: string[]) => runDeaddrop(['backup', '--config', config, ...args]);

test(
  'a set bigger than the archive dir file system goes through: what both sinks took leaves the spool',
  { skip: ROOT_AND_TMPFS, timeout: 300_000 },
  async () => {
    const h = await twoSinkHost('deaddrop-spool-bounded-');
    const disk = smallDisk(h.archiveDir, '12m'); // the set is ~20 MB
    try {
      h.write();
      const r = await backup(h.config, '--full');
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /for want of space/, 'room for 3 volumes: no warning');
      const outgoing = join(h.archiveDir, 'outgoing');
      assert.deepEqual(readdirSync(outgoing), [], 'nothing is left to spool');
      const onA = readdirSync(h.sinkDir('A')).sort();
      assert.deepEqual(readdirSync(h.sinkDir('B')).sort(), onA);
      const volumes = onA.filter((n) => n.includes('.vol'));
      assert.ok(volumes.length >= 7, `a set of many volumes (${volumes.length})`);
      const stored = onA.reduce((n, f) => n + statSync(join(h.sinkDir('A'), f)).size, 0);
      assert.ok(stored > 19_000_000, `the set (${stored} bytes) is bigger than the archive dir's 12 MiB`);
      for (const sink of ['A', 'B']) assert.deepEqual(compareTrees(h.src, await h.restoreFrom(sink)), []);
    } finally {
      disk.umount();
    }
  },
);

test(
  'a sink that fills up part way gets the rest from the spool at the next run, and restores alone',
  { skip: ROOT_AND_TMPFS, timeout: 300_000 },
  async () => {
    const h = await twoSinkHost('deaddrop-spool-catch-up-');
    const diskB = smallDisk(join(h.tmp, 'sinkB'), '7m'); // takes two volumes of the set
    try {
      h.write();
      const first = await backup(h.config, '--full');
      assert.equal(first.code, 4, first.stderr); // degraded: A has the set, B does not
      assert.match(first.stderr, /sink B: .*ENOSPC/);
      const [setKey] = readdirSync(join(h.archiveDir, 'outgoing'));
      const setDir = join(h.archiveDir, 'outgoing', setKey!);
      const left = readFileSync(join(setDir, '.sent-everywhere'), 'latin1').trim().split('\n');
      const onB = readdirSync(h.sinkDir('B'));
      assert.ok(left.length >= 1, 'some volumes left the spool');
      for (const line of left) {
        const [size, name] = line.split(' ');
        assert.ok(!existsSync(join(setDir, name!)), `${name} left the spool`);
        assert.ok(onB.includes(name!), `B has ${name}`);
        assert.equal(statSync(join(h.sinkDir('A'), name!)).size, Number(size));
      }
      const spooled = readdirSync(setDir).filter((n) => !n.startsWith('.'));
      for (const name of spooled) assert.ok(!onB.includes(name), `${name} is spooled only because B lacks it`);
      assert.ok(spooled.some((n) => n.endsWith('.sha256sums')));

      diskB.resize('64m');
      writeFileSync(join(h.src, 'added.txt'), 'after the full\n');
      const second = await backup(h.config);
      assert.equal(second.code, 0, second.stderr);
      assert.deepEqual(readdirSync(join(h.archiveDir, 'outgoing')), [], 'B confirmed both sets');
      assert.deepEqual(readdirSync(h.sinkDir('B')).sort(), readdirSync(h.sinkDir('A')).sort());
      assert.deepEqual(compareTrees(h.src, await h.restoreFrom('B')), []);
    } finally {
      diskB.umount();
    }
  },
);

test(
  'a sink down while a set outgrows the spool limit costs no local disk: the set is given up for it, and the next full reaches it',
  { skip: ROOT_AND_TMPFS, timeout: 300_000 },
  async () => {
    const h = await twoSinkHost('deaddrop-spool-sink-down-');
    const disk = smallDisk(h.archiveDir, '12m'); // the set is ~20 MB
    try {
      h.write({ spoolLimit: '5MB' }, ['B']);
      const first = await backup(h.config, '--full');
      assert.equal(first.code, 4, first.stderr); // degraded: A has the set
      assert.match(
        first.stderr,
        /spool over its limit \(5000000 bytes\): full\.\S+ was not kept for B, which never received it/,
      );
      assert.deepEqual(readdirSync(join(h.archiveDir, 'outgoing')), [], 'nothing kept for B');
      const status = await runDeaddrop(['status', '--config', h.config, '--json']);
      const lag = (JSON.parse(status.stdout) as { sinks: { name: string; lagCount: number }[] }).sinks;
      assert.deepEqual(
        lag.map((x) => [x.name, x.lagCount]),
        [
          ['A', 0],
          ['B', 1],
        ],
      );

      mkdirSync(h.sinkDir('B'), { recursive: true }); // B is back; it lacks the chain's full, so it waits for the next one
      const full = await backup(h.config, '--full');
      assert.equal(full.code, 0, full.stderr);
      assert.deepEqual(compareTrees(h.src, await h.restoreFrom('B')), []);
      assert.deepEqual(readdirSync(join(h.archiveDir, 'outgoing')), []);
    } finally {
      disk.umount();
    }
  },
);

test(
  'no space in the archive dir: exit 1 naming the file, and the unfinished set gives its space back',
  { skip: ROOT_AND_TMPFS, timeout: 300_000 },
  async () => {
    const h = await twoSinkHost('deaddrop-spool-enospc-');
    const disk = smallDisk(h.archiveDir, '2m'); // not even one volume
    try {
      h.write();
      const r = await backup(h.config, '--full');
      assert.equal(r.code, 1, r.stderr);
      // said up front, before the run fails
      assert.match(
        r.stderr,
        /archive: [\d.]+ [KM]iB free, a run may need 8\.6 MiB there \(3 volumes of 2\.9 MiB\): it may fail/,
      );
      assert.match(r.stderr, /ENOSPC: no space left on device, write '\/.+\/outgoing\/full\.\d{8}T\d{6}Z\/.+\.p7m'/);
      assert.deepEqual(readdirSync(join(h.archiveDir, 'outgoing')), []);
      assert.deepEqual(readdirSync(join(h.archiveDir, 'work')), []);
      const state = JSON.parse(readFileSync(join(h.archiveDir, 'state.json'), 'utf8')) as {
        runs: { result: string; error?: string }[];
      };
      assert.equal(state.runs.at(-1)?.result, 'failed');
      assert.match(state.runs.at(-1)?.error ?? '', /ENOSPC/);
    } finally {
      disk.umount();
    }
  },
);
