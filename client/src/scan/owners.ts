/**
 * User and group names for tar headers (duplicity stores uname/gname and, on restore and when
 * comparing signatures, prefers the name when it exists locally). Read from /etc/passwd and
 * /etc/group once; an unknown id gets an empty name, as Python's pwd lookup failure does.
 */
import { readFileSync } from 'node:fs';

export interface OwnerNames {
  user(uid: number): string;
  group(gid: number): string;
  /** The local uid of a user name, undefined when unknown. */
  uidOf(name: string): number | undefined;
  gidOf(name: string): number | undefined;
}

function table(file: string): { byId: Map<number, string>; byName: Map<string, number> } {
  const byId = new Map<number, string>();
  const byName = new Map<string, number>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    /* no database: every name is empty */
  }
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    const n = Number(id);
    if (!name || id === undefined || !Number.isInteger(n)) continue;
    if (!byId.has(n)) byId.set(n, name);
    if (!byName.has(name)) byName.set(name, n);
  }
  return { byId, byName };
}

export function loadOwnerNames(passwd = '/etc/passwd', group = '/etc/group'): OwnerNames {
  const users = table(passwd);
  const groups = table(group);
  return {
    user: (uid) => users.byId.get(uid) ?? '',
    group: (gid) => groups.byId.get(gid) ?? '',
    uidOf: (name) => users.byName.get(name),
    gidOf: (name) => groups.byName.get(name),
  };
}
