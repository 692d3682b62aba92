import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** A fresh temp directory removed when the test file finishes (kept with KEEP_TMP=1 for debugging). */
export function tempDir(prefix = 'deaddrop-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (!process.env.KEEP_TMP) after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
