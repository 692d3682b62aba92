/**
 * A nightly backup to a doubtful recipient certificate (here a CA certificate) still runs, and
 * says so in its log, naming the certificate file and why: encrypting to it works, but the
 * operator likely picked the wrong certificate.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { missingTools, runCommand, runDeaddrop, tempDir, writeLocalClientConfig } from '@deaddrop/test';

test(
  'backup to a CA certificate: the run succeeds, its log warns naming the file',
  { skip: missingTools('openssl') },
  async () => {
    const tmp = tempDir('deaddrop-recipient-warn-');
    const key = join(tmp, 'ca.key');
    const cert = join(tmp, 'ca.pem');
    for (const args of [
      ['genrsa', '-out', key, '2048'],
      ['req', '-new', '-x509', '-key', key, '-subj', '/CN=ca', '-days', '100', '-out', cert,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,keyEncipherment'], // prettier-ignore
    ]) {
      const r = await runCommand('openssl', args);
      assert.equal(r.code, 0, r.stderr);
    }
    mkdirSync(join(tmp, 'src'));
    writeFileSync(join(tmp, 'src', 'f'), 'data\n');
    const c = writeLocalClientConfig(tmp, { sources: [join(tmp, 'src')], recipients: [cert] });
    const r = await runDeaddrop(['backup', '--config', c.config]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stderr.includes(`warn: ${cert}: a CA certificate (CN=ca)`), r.stderr);
  },
);
