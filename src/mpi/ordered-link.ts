// In-memory linking with the incremental link store's semantics: records are taken in order and each joins the
// person of its auto-link candidates among the earlier records (`chooseLink`), so a batch run makes the same
// decisions the write path would have made in that order, without a database round trip per record.
// `OrderedLinker` takes one record at a time and keeps only what later records are matched against (a compact
// prepared form and the block index), so a caller can stream records in and decisions out.
import { BlockIndex } from './block-index.ts';
import { blockKeys, MAX_BLOCK_SIZE, MAX_CANDIDATES } from './blocking.ts';
import { decidePrepared } from './decide.ts';
import { chooseLink } from './link-choice.ts';
import type { MatchModel, ScoreResult } from './model.ts';
import { scorePrepared } from './model.ts';
import type { DateParts, MpiRecord } from './normalize.ts';
import { prepare, type PreparedRecord } from './prepare.ts';

export interface OrderedLinkOptions {
  /** Person of a record that must not move (steward-confirmed, level4), by record index. */
  fixed?: ReadonlyMap<number, string>;
  /** Pairs a steward marked not-link, as `lowerIndex:higherIndex`. */
  notLinks?: ReadonlySet<string>;
  /** New person ids (deterministic in tests). */
  newPersonId: () => string;
  maxBlockSize?: number;
  maxCandidates?: number;
}

export interface OrderedLinkResult {
  /** Person id per record. */
  persons: string[];
  /** The auto-link score that placed a record, when one did. */
  linkedBy: Array<ScoreResult | undefined>;
  /** Review pairs (later record index, earlier record index) with the reason. */
  tasks: Array<{ a: number; b: number; result: ScoreResult; reason: string }>;
  candidatePairs: number;
}

export const pairKey = (i: number, j: number) => (i < j ? `${i}:${j}` : `${j}:${i}`);

/** One record's decision. Persons are numbered clusters; the caller names them (see `fresh`). */
export interface LinkedRecord {
  index: number;
  cluster: number;
  /** The record opened a new cluster (alone, or the first record of a confirmed person). */
  fresh: boolean;
  linkedBy?: ScoreResult;
  /** Review pairs against earlier records (by index). */
  tasks: Array<{ b: number; result: ScoreResult; reason: string }>;
  /** The record's block keys (the store keeps them, hashed). */
  keys: string[];
  candidates: number;
}

interface ScoredCandidate {
  personId: string;
  result: ScoreResult;
  decision: ReturnType<typeof decidePrepared>;
  index: number;
}

/**
 * Shares the values many records repeat (names, phonetic codes, cities, birth dates) between prepared records,
 * so the forms kept for matching cost little more than their unique values (identifiers, street, phone, email).
 */
class Interner {
  private strings = new Map<string, string>();
  private lists = new Map<string, string[]>();
  private pairs = new Map<string, [string, string]>();
  private dates = new Map<number, DateParts>();

  string(s: string): string {
    const hit = this.strings.get(s);
    if (hit !== undefined) return hit;
    this.strings.set(s, s);
    return s;
  }

  list(xs: string[]): string[] {
    const key = xs.join(' ');
    const hit = this.lists.get(key);
    if (hit && hit.length === xs.length) return hit;
    const own = xs.map((x) => this.string(x));
    this.lists.set(key, own);
    return own;
  }

  pair(p: [string, string]): [string, string] {
    const key = `${p[0]} ${p[1]}`;
    const hit = this.pairs.get(key);
    if (hit) return hit;
    this.pairs.set(key, p);
    return p;
  }

  date(d: DateParts | undefined): DateParts | undefined {
    if (!d) return undefined;
    const key = (d.y * 100 + d.m) * 100 + d.d;
    const hit = this.dates.get(key);
    if (hit && hit.y === d.y && hit.m === d.m && hit.d === d.d) return hit;
    this.dates.set(key, d);
    return d;
  }

  prepared(p: PreparedRecord): PreparedRecord {
    return {
      id: p.id, given: this.string(p.given), givenTokens: this.list(p.givenTokens), givenMp: this.pair(p.givenMp),
      family: this.string(p.family), familyTokens: this.list(p.familyTokens), familyMp: this.pair(p.familyMp),
      birth: this.date(p.birth), sex: p.sex, ssn: p.ssn, street: p.street, city: this.string(p.city), postal: this.string(p.postal),
      phone: p.phone, email: p.email,
    };
  }
}

function growInt(a: Int32Array<ArrayBuffer>, size: number): Int32Array<ArrayBuffer> {
  if (size <= a.length) return a;
  const b = new Int32Array(Math.max(size, a.length * 2));
  b.set(a);
  return b;
}

/** Links records one at a time, in arrival order, against every earlier record. */
export class OrderedLinker {
  private readonly cap: number;
  private readonly limit: number;
  private readonly index: BlockIndex;
  private readonly prepared: PreparedRecord[] = [];
  private readonly interner = new Interner();
  private clusterOf = new Int32Array(1 << 16);
  private shared = new Int32Array(1 << 16);
  private clusters = 0;
  private readonly confirmed = new Map<string, number>();

  constructor(private readonly model: MatchModel, private readonly opts: { notLinks?: ReadonlySet<string>; maxBlockSize?: number; maxCandidates?: number } = {}) {
    this.cap = opts.maxBlockSize ?? MAX_BLOCK_SIZE;
    this.limit = opts.maxCandidates ?? MAX_CANDIDATES;
    this.index = new BlockIndex(this.cap);
  }

  get count(): number {
    return this.prepared.length;
  }

  /** Person cluster of an earlier record. */
  cluster(index: number): number {
    return this.clusterOf[index];
  }

  /**
   * Earlier records sharing a block key (blocks over the cap are skipped, as in batch blocking), the `limit`
   * sharing the most keys first, ties broken by record id as the store's candidate query breaks them.
   */
  private earlier(keys: readonly string[]): number[] {
    const touched: number[] = [];
    const shared = this.shared;
    for (const key of keys) {
      const block = this.index.find(key);
      if (block < 0 || this.index.size(block) >= this.cap) continue;
      this.index.forEach(block, (m) => {
        if (shared[m]++ === 0) touched.push(m);
      });
    }
    let out = touched;
    if (touched.length > this.limit) {
      const id = (k: number) => this.prepared[k].id;
      out = [...touched].sort((a, b) => shared[b] - shared[a] || (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0)).slice(0, this.limit);
    }
    for (const m of touched) shared[m] = 0;
    return out;
  }

  /** Links the next record; `fixedPerson` keeps a steward-confirmed record in its person. */
  add(record: MpiRecord, fixedPerson?: string): LinkedRecord {
    const i = this.prepared.length;
    const mine = prepare(record);
    const keys = blockKeys(record);
    const candidates: ScoredCandidate[] = [];
    // A confirmed link stays as the steward decided it (the link store returns early for level4 too).
    if (fixedPerson === undefined) {
      const notLinks = this.opts.notLinks?.size ? this.opts.notLinks : undefined;
      for (const j of this.earlier(keys)) {
        if (notLinks?.has(pairKey(i, j))) continue;
        const other = this.prepared[j];
        const result = scorePrepared(mine, other, this.model);
        candidates.push({ personId: String(this.clusterOf[j]), result, decision: decidePrepared(mine, other, result, this.model), index: j });
      }
    }
    const choice = chooseLink(candidates, undefined);
    let cluster = fixedPerson !== undefined ? this.confirmed.get(fixedPerson) : choice.best ? this.clusterOf[choice.best.index] : undefined;
    const fresh = cluster === undefined;
    if (cluster === undefined) {
      cluster = this.clusters++;
      if (fixedPerson !== undefined) this.confirmed.set(fixedPerson, cluster);
    }
    this.clusterOf = growInt(this.clusterOf, i + 1);
    this.shared = growInt(this.shared, i + 1);
    this.clusterOf[i] = cluster;
    this.prepared.push(this.interner.prepared(mine));
    for (const key of keys) this.index.add(key, i);
    return {
      index: i, cluster, fresh, linkedBy: choice.best?.result, keys, candidates: candidates.length,
      tasks: choice.tasks.map((t) => ({ b: t.candidate.index, result: t.candidate.result, reason: t.reason })),
    };
  }
}

/** Links a whole list in order (`OrderedLinker` over every record), naming new persons with `newPersonId`. */
export function linkInOrder(records: readonly MpiRecord[], model: MatchModel, opts: OrderedLinkOptions): OrderedLinkResult {
  const linker = new OrderedLinker(model, opts);
  const names: string[] = [];
  const out: OrderedLinkResult = { persons: [], linkedBy: [], tasks: [], candidatePairs: 0 };
  records.forEach((record, i) => {
    const fixed = opts.fixed?.get(i);
    const r = linker.add(record, fixed);
    if (r.fresh) names[r.cluster] = fixed ?? opts.newPersonId();
    out.persons.push(names[r.cluster]);
    out.linkedBy.push(r.linkedBy);
    out.candidatePairs += r.candidates;
    for (const t of r.tasks) out.tasks.push({ a: i, ...t });
  });
  return out;
}
