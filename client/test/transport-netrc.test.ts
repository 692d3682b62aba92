/**
 * netrc: the same credentials curl --netrc-file sends (checked against curl itself through a
 * header-echoing server on 127.0.0.1), the 0600 rule (exit 2 naming the file), and no secret
 * in any error message.
 */
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { ExitCode, UsageError } from '@deaddrop/common/errors';
import { missingTools, runCommand, tempDir } from '@deaddrop/test';
import { lookupNetrc, Netrc, parseNetrc } from '../src/transport/netrc.js';

const SAMPLES: Record<string, string> = {
  'one line': 'machine 127.0.0.1 login alice password s3cret\n',
  'tokens across lines': 'machine\n127.0.0.1\n  login\talice\n\n password\n  s3cret\n',
  'first match wins': 'machine 127.0.0.1 login first password one\nmachine 127.0.0.1 login second password two\n',
  'default after others': 'machine other.example login x password y\ndefault login dflt password dpw\n',
  'default first wins (like curl)': 'default login dflt password dpw\nmachine 127.0.0.1 login alice password pw\n',
  'macdef skipped':
    'macdef init\nmachine 127.0.0.1 login evil password evil\n\nmachine 127.0.0.1 login alice password ok\n',
  'quoted password': 'machine 127.0.0.1 login alice password "with space\\"q"\n',
  'account ignored': 'machine 127.0.0.1 login alice account acct password pw2\n',
};

test('parse: machine, default, tokens across lines, macdef, quotes', () => {
  const get = (text: string) => lookupNetrc(parseNetrc(text), '127.0.0.1');
  assert.deepEqual(get(SAMPLES['one line']!), { machine: '127.0.0.1', login: 'alice', password: 's3cret' });
  assert.deepEqual(get(SAMPLES['tokens across lines']!), { machine: '127.0.0.1', login: 'alice', password: 's3cret' });
  assert.equal(get(SAMPLES['first match wins']!)?.login, 'first');
  assert.equal(get(SAMPLES['default after others']!)?.login, 'dflt');
  assert.equal(get(SAMPLES['default first wins (like curl)']!)?.login, 'dflt');
  assert.equal(get(SAMPLES['macdef skipped']!)?.password, 'ok');
  assert.equal(get(SAMPLES['quoted password']!)?.password, 'with space"q');
  assert.equal(get(SAMPLES['account ignored']!)?.password, 'pw2');
  assert.equal(lookupNetrc(parseNetrc('machine a login b password c'), 'A')?.login, 'b', 'host match ignores case');
  assert.equal(lookupNetrc(parseNetrc('machine a login b password c'), 'z'), undefined);
});

test('the credentials are the ones curl --netrc-file sends', { skip: missingTools('curl') }, async () => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers.authorization ?? '');
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const dir = tempDir('deaddrop-netrc-');
  try {
    for (const [name, text] of Object.entries(SAMPLES)) {
      const file = join(dir, `${name.replace(/ /g, '-')}.netrc`);
      writeFileSync(file, text, { mode: 0o600 });
      seen.length = 0;
      const r = await runCommand('curl', ['-s', '--netrc-file', file, `http://127.0.0.1:${port}/`]);
      assert.equal(r.code, 0, r.stderr);
      const ours = (await Netrc.load(file)).credentialsFor('127.0.0.1');
      const expected = 'Basic ' + Buffer.from(`${ours.login}:${ours.password}`).toString('base64');
      assert.equal(seen[0], expected, `${name}: curl sent ${seen[0]}`);
    }
  } finally {
    server.close();
  }
});

test('mode other than 0600 or stricter: exit 2 naming the file; missing entry names the host, not the secret', async () => {
  const dir = tempDir('deaddrop-netrc-');
  const file = join(dir, 'netrc');
  writeFileSync(file, 'machine sink.example login h1 password hunter2-secret\n');
  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    chmodSync(file, mode);
    await assert.rejects(Netrc.load(file), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.equal(err.exitCode, ExitCode.USAGE);
      assert.ok(err.message.includes(file), err.message);
      assert.ok(!err.message.includes('hunter2'), err.message);
      return true;
    });
  }
  for (const mode of [0o600, 0o400]) {
    chmodSync(file, mode);
    const n = await Netrc.load(file);
    assert.equal(n.credentialsFor('sink.example').password, 'hunter2-secret');
    assert.throws(
      () => n.credentialsFor('other.example'),
      (err: Error) => err.message.includes('other.example') && !err.message.includes('hunter2'),
    );
  }
  await assert.rejects(Netrc.load(join(dir, 'absent')), (err: UsageError) => err.exitCode === ExitCode.USAGE);
});
