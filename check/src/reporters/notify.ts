/** Alerts: mail through the system's `sendmail -t`, and a Mattermost/Slack-style webhook. */
import { spawn } from 'node:child_process';
import { DeaddropError } from '@deaddrop/common/errors';

/** Send a plain-text mail with `sendmail -t` (found on PATH, else /usr/sbin/sendmail). */
export async function sendMail(to: string, subject: string, body: string): Promise<void> {
  if (/[\r\n]/.test(to) || /[\r\n]/.test(subject)) throw new DeaddropError('--mail: address must be one line');
  const message =
    `To: ${to}\nSubject: ${subject}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n` +
    `Auto-Submitted: auto-generated\n\n${body}`;
  const run = (cmd: string) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(cmd, ['-t'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0
          ? resolve()
          : reject(new DeaddropError(`sendmail exited ${code}: ${err.trim().split('\n')[0] ?? ''}`)),
      );
      child.stdin.on('error', () => {}); // reported through the exit code
      child.stdin.end(message);
    });
  try {
    await run('sendmail');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await run('/usr/sbin/sendmail').catch((e: NodeJS.ErrnoException) => {
      throw e.code === 'ENOENT' ? new DeaddropError('--mail: no sendmail on PATH or in /usr/sbin') : e;
    });
  }
}

/** POST `{"text": ...}` (what Mattermost and Slack incoming webhooks take). */
export async function postWebhook(url: string, text: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new DeaddropError(`--webhook ${new URL(url).origin}: ${(err as Error).message}`);
  }
  await res.arrayBuffer();
  if (!res.ok) throw new DeaddropError(`--webhook ${new URL(url).origin}: HTTP ${res.status}`);
}
