/** Alerts: mail through the system's `sendmail -t`, and a Mattermost/Slack-style webhook. */
import { spawn } from 'node:child_process';
import { DeaddropError } from '@deaddrop/common/errors';

/** How long sendmail may take before it is killed (DEADDROP_SENDMAIL_TIMEOUT seconds: tests). */
function sendmailTimeoutMs(): number {
  const s = Number(process.env.DEADDROP_SENDMAIL_TIMEOUT);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 60_000;
}

/**
 * Send a plain-text mail with `sendmail -t` (found on PATH, else /usr/sbin/sendmail). A sendmail
 * that has not finished after 60 s is killed and the mail reported as failed.
 */
export async function sendMail(to: string, subject: string, body: string): Promise<void> {
  if (/[\r\n]/.test(to) || /[\r\n]/.test(subject)) throw new DeaddropError('--mail: address must be one line');
  const message =
    `To: ${to}\nSubject: ${subject}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n` +
    `Auto-Submitted: auto-generated\n\n${body}`;
  const timeout = sendmailTimeoutMs();
  const run = (cmd: string) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(cmd, ['-t'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      // a hung sendmail (or a child of it holding the pipe open) must not hang the check
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        child.stderr.destroy();
        child.stdin.destroy();
        child.unref();
        reject(new DeaddropError(`sendmail did not finish in ${timeout / 1000} s: killed`));
      }, timeout);
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new DeaddropError(`sendmail exited ${code}: ${err.trim().split('\n')[0] ?? ''}`));
      });
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
    // the message may quote the URL (undici does): only its origin is shown
    const origin = new URL(url).origin;
    throw new DeaddropError(`--webhook ${origin}: ${(err as Error).message.split(url).join(origin)}`);
  }
  await res.arrayBuffer();
  if (!res.ok) throw new DeaddropError(`--webhook ${new URL(url).origin}: HTTP ${res.status}`);
}
