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

/** How long the webhook may take, body included (DEADDROP_WEBHOOK_TIMEOUT seconds: tests). */
function webhookTimeoutMs(): number {
  const s = Number(process.env.DEADDROP_WEBHOOK_TIMEOUT);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 30_000;
}

/** An error's message and its causes' (undici's "fetch failed" says why only in `cause`). */
function withCauses(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined && parts.length < 4; e = (e as { cause?: unknown }).cause) {
    const m = e instanceof Error ? e.message : String(e);
    if (m && !parts.some((p) => p.includes(m))) parts.push(m);
    if (!(e instanceof Error)) break;
  }
  return parts.join(': ');
}

/**
 * POST `{"text": ...}` (what Mattermost and Slack incoming webhooks take). A redirect is a
 * failure, not followed: fetch would turn the POST into a GET of the new location, whose 200
 * would pass for a delivered report.
 */
export async function postWebhook(url: string, text: string): Promise<void> {
  // the URL's path is its token: only its origin is ever shown
  const origin = new URL(url).origin;
  const fail = (why: string) => new DeaddropError(`--webhook ${origin}: ${why.split(url).join(origin)}`);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text }),
      redirect: 'manual',
      signal: AbortSignal.timeout(webhookTimeoutMs()),
    });
    // the body under the same timeout: a server that stalls it must not hang the check
    await res.arrayBuffer();
  } catch (err) {
    throw fail(withCauses(err));
  }
  if (res.status >= 300 && res.status < 400) {
    const to = res.headers.get('location');
    let where = '';
    try {
      if (to) where = ` to ${new URL(to, url).origin}`;
    } catch {
      // an unparsable Location: the status says enough
    }
    throw fail(
      `HTTP ${res.status}, a redirect${where}: not followed, the report was not delivered (give the final URL)`,
    );
  }
  if (!res.ok) throw fail(`HTTP ${res.status}`);
}
