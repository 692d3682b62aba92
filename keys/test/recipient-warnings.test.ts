import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { loadRecipients } from '@deaddrop/keys';
import { makeTestRecipient, missingTools, runDeaddrop, tempDir, type TestRecipient } from '@deaddrop/test';
import { writeCertificate } from './helpers.js';

// Encrypting to a certificate that is expired, not yet valid, not for key encipherment or a
// CA works (openssl and gpgsm decrypt to it), but is named in a warning, never silent.
const dir = tempDir();
const year = (y: number) => new Date(Date.UTC(y, 0, 1));

describe('doubtful recipient certificates are encrypted to with a warning', { skip: missingTools('openssl') }, () => {
  let holder: TestRecipient;
  const cert = (name: string) => join(dir, `${name}.pem`);
  before(async () => {
    holder = await makeTestRecipient(dir, { cn: 'Doubtful' });
    const key = holder.plainKeyPath;
    await writeCertificate(cert('expired'), key, { notBefore: year(2020), notAfter: year(2021) });
    await writeCertificate(cert('future'), key, { notBefore: year(2040), notAfter: year(2041) });
    const now = { notBefore: year(2020), notAfter: year(2090) };
    await writeCertificate(cert('sigonly'), key, {
      ...now,
      extensions: [{ name: 'keyUsage', digitalSignature: true }],
    });
    await writeCertificate(cert('ca'), key, {
      ...now,
      extensions: [
        { name: 'basicConstraints', cA: true },
        { name: 'keyUsage', keyCertSign: true, keyEncipherment: true },
      ],
    });
  });

  const cases: [string, RegExp][] = [
    ['expired', /^warning: \S*expired\.pem: expired on 2021-01-01T00:00:00\.000Z/m],
    ['future', /^warning: \S*future\.pem: not valid before 2040-01-01T00:00:00\.000Z/m],
    ['sigonly', /^warning: \S*sigonly\.pem: keyUsage lacks keyEncipherment/m],
    ['ca', /^warning: \S*ca\.pem: a CA certificate/m],
  ];
  for (const [name, warning] of cases)
    test(`encrypt --to ${name}.pem: exit 0, a warning naming the file and why; the key decrypts`, async () => {
      const message = join(dir, `${name}.p7m`);
      const r = await runDeaddrop(['encrypt', '--to', cert(name), '-o', message], { input: 'still readable\n' });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, warning);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      const d = await runDeaddrop(['decrypt', '--key', holder.plainKeyPath, message]);
      assert.equal(d.code, 0, d.stderr);
      assert.equal(d.stdout, 'still readable\n');
    });

  test('a sound certificate: no warning; the library reports the reasons per recipient', async () => {
    const r = await runDeaddrop(['encrypt', '--to', holder.certPath, '-o', join(dir, 'sound.p7m')], { input: 'x' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const bundle = join(dir, 'bundle.pem');
    writeFileSync(bundle, readFileSync(holder.certPath, 'utf8') + readFileSync(cert('expired'), 'utf8'));
    const loaded = await loadRecipients([bundle]);
    assert.deepEqual(
      loaded.map((l) => l.warnings),
      [[], ['expired on 2021-01-01T00:00:00.000Z']],
    );
  });

  test('keys show marks an expired and a not yet valid certificate', async () => {
    for (const [name, mark] of [
      ['expired', 'EXPIRED'],
      ['future', 'NOT YET VALID'],
    ]) {
      const r = await runDeaddrop(['keys', 'show', cert(name!)]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`valid: .* \\(${mark}\\)`));
      const j = await runDeaddrop(['keys', 'show', cert(name!), '--json']);
      assert.equal(JSON.parse(j.stdout).validity, name === 'expired' ? 'expired' : 'not-yet-valid');
    }
    const sound = await runDeaddrop(['keys', 'show', holder.certPath, '--json']);
    assert.equal(JSON.parse(sound.stdout).validity, 'current');
  });
});
