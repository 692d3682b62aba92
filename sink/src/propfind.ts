import type { Stats } from 'node:fs';
import { opendir } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { hrefFor } from './path-policy.js';
import { isSafeSegment, isValidHostName } from './names.js';
import { HttpRefusal, lstatOrUndefined, walkNoSymlinks } from './safe-fs.js';

export interface PropfindTarget {
  root: string;
  prefix: string;
  /** Path below the prefix: [host, ...segments]; empty for the prefix itself (readers only). */
  parts: string[];
  depth: 0 | 1;
}

/** The href of an entry; the prefix itself for the root. */
function href(prefix: string, parts: string[], collection: boolean): string {
  return parts.length === 0 ? prefix : hrefFor(prefix, parts[0]!, parts.slice(1), collection);
}

/** The Depth header: 0 or 1; absent means 0 (as nginx dav-ext does); infinity is refused (403). */
export function parseDepth(header: string | undefined): 0 | 1 {
  if (header === '0' || header === undefined) return 0;
  if (header === '1') return 1;
  throw new HttpRefusal(403, `Depth ${header} refused`);
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function responseXml(href: string, st: Stats): string {
  const props = [
    st.isDirectory()
      ? '<D:resourcetype><D:collection/></D:resourcetype>'
      : `<D:resourcetype/><D:getcontentlength>${st.size}</D:getcontentlength>`,
    `<D:getlastmodified>${st.mtime.toUTCString()}</D:getlastmodified>`,
  ];
  return (
    `<D:response><D:href>${escapeXml(href)}</D:href><D:propstat><D:prop>${props.join('')}</D:prop>` +
    `<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>\n`
  );
}

/**
 * Answer PROPFIND with an RFC 4918 multistatus (resourcetype, getcontentlength,
 * getlastmodified). Listings stream entry by entry; symlinks and other non-regular entries and
 * names the policy could not address are left out.
 */
export async function propfind(t: PropfindTarget, res: ServerResponse): Promise<void> {
  const st = t.parts.length ? await walkNoSymlinks(t.root, t.parts) : await lstatOrUndefined(t.root);
  if (!st || !(st.isDirectory() || st.isFile())) throw new HttpRefusal(404, 'not found');
  res.writeHead(207, { 'Content-Type': 'application/xml; charset=utf-8' });
  res.write('<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">\n');
  res.write(responseXml(href(t.prefix, t.parts, st.isDirectory()), st));
  if (t.depth === 1 && st.isDirectory()) {
    const dirPath = join(t.root, ...t.parts);
    const addressable = t.parts.length ? isSafeSegment : isValidHostName;
    for await (const entry of await opendir(dirPath)) {
      if (!addressable(entry.name)) continue;
      const est = await lstatOrUndefined(join(dirPath, entry.name));
      if (!est || !(est.isFile() || est.isDirectory())) continue;
      const ok = res.write(responseXml(href(t.prefix, [...t.parts, entry.name], est.isDirectory()), est));
      if (!ok) await new Promise((r) => res.once('drain', r));
    }
  }
  res.end('</D:multistatus>\n');
}
