import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { deaddropArgv, missingTools, tempDir } from '@deaddrop/test';
import { DAY, testRecipients, writeChain } from './tree.js';

const NOW = 1_800_000_000;

test(
  '--deep on a TTY shows a progress line on stderr; without a TTY it stays quiet',
  { skip: missingTools('script') },
  async () => {
    const dir = tempDir();
    const rcp = await testRecipients(join(dir, 'keys'));
    await writeChain(join(dir, 'root', 'big.lab'), rcp, NOW - DAY, [], { volumes: 10, volumeBytes: 1_000_000 });
    writeFileSync(join(dir, 'htpasswd'), 'big.lab:x\n');
    const args = [
      ...deaddropArgv(),
      'check',
      '--root',
      join(dir, 'root'),
      '--htpasswd',
      join(dir, 'htpasswd'),
      '--now',
      String(NOW),
    ];
    const quoted = args.map((a) => `'${a}'`).join(' ');
    // script(1) gives the command a pseudo-terminal; stdout goes to a file so only stderr is on the tty
    const out = join(dir, 'out.txt');
    const tty = spawnSync('script', ['-qec', `${quoted} > '${out}'`, '/dev/null'], { encoding: 'utf8' });
    assert.equal(tty.status, 0, tty.stdout + tty.stderr);
    assert.ok(tty.stdout.includes('\r\u001b[Kchecking '), 'progress line rewritten in place');
    assert.match(tty.stdout, /checking \d+\.\d% .*big\.lab\/duplicity-full\./);
    const plain = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
    assert.equal(plain.status, 0);
    assert.equal(plain.stderr, '');
    assert.match(plain.stdout, /1 hosts, 1 ok/);
  },
);
