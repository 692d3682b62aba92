/** Worker thread entry: bcrypt comparisons for password-checks.ts, one at a time. */
import { parentPort } from 'node:worker_threads';
import bcrypt from 'bcryptjs';

parentPort!.on('message', (m: { id: number; password: string; hash: string }) => {
  let ok = false;
  try {
    ok = bcrypt.compareSync(m.password, m.hash);
  } catch {
    // a malformed hash matches nothing
  }
  parentPort!.postMessage({ id: m.id, ok });
});
