/**
 * What a failed restore says DEST holds, once every set was applied: the steps after the sets
 * (settle, removing empty parents, the --force merge, directory attributes) are what is
 * unfinished, not the state. (restore-force provokes one of them for real: the attributes.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { whatDestHolds, type DestProgress } from '@deaddrop/client/restore/dest-left';

const after = (p: Partial<DestProgress>) =>
  whatDestHolds({ dest: '/d', mode: 'fresh', volumes: 5, setsDone: 2, lastDone: 1764000000, ...p });

const marker = '/d/.deaddrop-restore.unfinished';

test('a failure after every set was applied: what failed, and what DEST holds', () => {
  for (const mode of ['fresh', 'resume'] as const) {
    const parents = after({ mode, step: 'parents', marker });
    assert.match(
      parents,
      /^every set was applied and checked out, but removing the directories left empty above a --path not in the backup did not finish: \/d holds the restored state, and maybe empty directories that are not of it \(the directories it made are still mode 0700, .*\), marked by \/d\/\.deaddrop-restore\.unfinished: run again with --force$/,
    );
    const settle = after({ mode, step: 'settle', marker });
    assert.match(
      settle,
      /^every set was applied and checked out, but .* did not finish: \/d holds the restored state \(/,
    );
    for (const s of [parents, settle]) assert.doesNotMatch(s, /older|--time/);
  }
  // --force into a DEST that held something: the sets' own tree had not reached DEST yet
  assert.equal(
    after({ mode: 'merge', step: 'parents' }),
    'every set was applied and checked out, but removing the directories left empty above a --path not in the backup did not finish: /d is unchanged',
  );
  // an earlier merge into DEST did not finish: this run (merging again) stopped before its merge
  for (const step of [undefined, 'settle'] as const)
    assert.match(
      after({ mode: 'merge', step, marker }),
      /\/d is unchanged: still part of the restored state and part of what it held, as an earlier restore left it, marked by \/d\/\.deaddrop-restore\.unfinished: run again with --force$/,
    );
  // before the last set: the older state, as before
  assert.match(
    after({}),
    /^\/d holds an incomplete, older state than the one asked for .* --time 2025-11-24T16:00:00Z/,
  );
});
