/**
 * Files a sums file lists that are not on the sink. A sums file is written by the host, so it
 * may list millions of names: a few are reported one by one, more as one problem per kind with
 * the count and the first names (as missing volume ranges are), never one problem apiece.
 */
import { parseSinkName } from '@deaddrop/client/format/names';
import { problem, type Problem, type ProblemCode } from './report.js';

/** Up to this many absent files of a kind are each a problem of their own. */
export const MAX_NAMED = 3;

const KINDS: { code: ProblemCode; what: string }[] = [
  { code: 'missing-volume', what: 'volumes' },
  { code: 'missing-manifest', what: 'manifests' },
  { code: 'missing-signatures', what: 'signatures files' },
  { code: 'missing-file', what: 'files' },
];

function codeOf(name: string): ProblemCode {
  const p = parseSinkName(name);
  if (p?.type !== 'duplicity') return 'missing-file';
  return p.file === 'volume' ? 'missing-volume' : p.file === 'manifest' ? 'missing-manifest' : 'missing-signatures';
}

/** Problems for `names`, listed in `sums` but absent; `file` names the first of each kind. */
export function absentListed(names: string[], sums: string): Problem[] {
  const byCode = new Map<ProblemCode, string[]>();
  for (const name of names) {
    const code = codeOf(name);
    const list = byCode.get(code) ?? [];
    list.push(name);
    byCode.set(code, list);
  }
  const out: Problem[] = [];
  for (const { code, what } of KINDS) {
    const list = byCode.get(code);
    if (!list) continue;
    if (list.length <= MAX_NAMED) {
      for (const name of list) out.push(problem(code, `${name} is listed in ${sums} but missing`, { file: name }));
      continue;
    }
    const first = list.slice(0, MAX_NAMED).join(', ');
    out.push(problem(code, `${list.length} ${what} listed in ${sums} are missing: ${first}, …`, { file: list[0] }));
  }
  return out;
}
