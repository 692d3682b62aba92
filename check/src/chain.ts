/**
 * Chains as duplicity links them, and where they break. An incremental that continues no chain
 * is either past a gap (the chain it continues ends before its start: a set in between is
 * missing, so it and every later link are unrestorable) or a stray that overlaps a chain.
 */
import { linkChains, type BackupChain, type BackupSet } from '@deaddrop/client/format/names';

/** Incrementals past one gap in a chain, linked to each other. */
export interface Break {
  chain: BackupChain;
  /** The gap: the chain (or an earlier break's sets) reach `from`; the first set starts at `to`. */
  from: number;
  to: number;
  /** In time order; the first starts at `to`. */
  sets: BackupSet[];
}

export interface ChainLinks {
  /** Sorted by end time; `chains.at(-1)` is the newest restorable one. */
  chains: BackupChain[];
  breaks: Break[];
  /** Incrementals that overlap a chain, or have no full before them. */
  strays: BackupSet[];
  /** Per chain: the end time of its last set, past its breaks (what was uploaded). */
  reach: Map<BackupChain, number>;
}

export function linkWithBreaks(sets: BackupSet[], usable: (s: BackupSet) => boolean): ChainLinks {
  const { chains, orphans } = linkChains(sets, usable);
  const reach = new Map(chains.map((c) => [c, c.endTime]));
  const breaks: Break[] = [];
  const strays: BackupSet[] = [];
  for (const o of [...orphans].sort((a, b) => a.time - b.time)) {
    const start = o.startTime!;
    const continued = breaks.find((b) => b.sets.at(-1)!.time === start);
    if (continued) {
      continued.sets.push(o);
      reach.set(continued.chain, Math.max(reach.get(continued.chain)!, o.time));
      continue;
    }
    // the chain it would continue: begun before it, reaching furthest
    let base: BackupChain | undefined;
    for (const c of chains) if (c.full.time <= start && (!base || reach.get(c)! > reach.get(base)!)) base = c;
    if (base && reach.get(base)! < start) {
      breaks.push({ chain: base, from: reach.get(base)!, to: start, sets: [o] });
      reach.set(base, o.time);
    } else strays.push(o);
  }
  return { chains, breaks, strays, reach };
}
