/**
 * Names that belong next to a backup without being one: duplicity's par2 recovery files of a
 * backup file and its jsonstat files of a set. Only those are left alone; any other `*.par2`
 * or "jsonstat" name is a stray (parseSinkName marks every such name ignored).
 */
import { parseSinkName } from '@deaddrop/client/format/names';

const T = '\\d{8}T\\d{6}Z';
const LAYERS = '(\\.gz\\.p7m|\\.p7m|\\.gpg|\\.gz)?';
const JSONSTAT = new RegExp(`^duplicity-(full\\.${T}|inc\\.${T}\\.to\\.${T})\\.jsonstat${LAYERS}$`);
const SHORT_JSONSTAT = /^(dfst\.[0-9a-z]+|dist\.[0-9a-z]+\.[0-9a-z]+)\.jst(\.z|\.g)?$/;

/** `NAME.par2` or par2's `NAME.vol000+01.par2` of a duplicity file NAME, or a set's jsonstat. */
export function isBackupExtra(name: string): boolean {
  if (name.endsWith('.par2')) {
    const protectedName = name.slice(0, -'.par2'.length).replace(/\.vol\d+\+\d+$/, '');
    return parseSinkName(protectedName)?.type === 'duplicity';
  }
  return JSONSTAT.test(name) || SHORT_JSONSTAT.test(name);
}
