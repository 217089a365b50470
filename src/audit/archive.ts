import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import type { Queryable } from '../store/database.ts';
import { AUDIT_COLUMNS, hashEntry, placeOf, positionOf, rowFacts, type AuditRow } from './entry.ts';

/**
 * Retention: entries recorded before a cutoff are exported as NDJSON, one stored row per line with its seq,
 * prev_hash and hash, so the archive verifies on its own (`verifyArchive`) and links to the live chain
 * (the manifest's lastHash is the prev_hash of the next live entry). The rows are NOT deleted: the log is
 * append-only and `verifyChain` walks from seq 1. Dropping archived rows would need a privileged prune that
 * records the manifest as the chain's new anchor — not implemented, so retention (`AUDIT_RETENTION_YEARS`, at least 6)
 * is a floor: nothing is ever deleted, and it only sets the default cutoff of `katahdin audit export`.
 * `katahdin audit verify-archive --file F` checks a file (`checkArchive`): its own chains, its manifest, and that the
 * log recorded exporting exactly this file and still holds the same hashes.
 */
export interface ArchiveManifest {
  before: string;
  count: number;
  firstSeq: number | null;
  lastSeq: number | null;
  /** prev_hash of the first exported entry (the genesis hash, or the previous archive's lastHash). */
  firstPrevHash: string | null;
  lastHash: string | null;
  fileSha256: string;
  createdAt: string;
}

const BATCH = 2000;

/** Entries recorded before this instant are past the retention period (`auditRetentionYears`, at least 6). */
export function retentionCutoff(retentionYears: number, now: Date = new Date()): Date {
  const cutoff = new Date(now);
  cutoff.setUTCFullYear(cutoff.getUTCFullYear() - Math.max(6, retentionYears));
  return cutoff;
}

/** Writes every entry recorded before `before` to `out` (NDJSON) and `out + '.manifest.json'`; records the manifest. */
export async function exportArchive(db: Queryable, before: Date, out: string, now = new Date()): Promise<ArchiveManifest> {
  const stream = createWriteStream(out, { encoding: 'utf8', mode: 0o600 });
  const digest = createHash('sha256');
  let first: AuditRow | undefined;
  let last: AuditRow | undefined;
  let count = 0;
  for (;;) {
    const rows = (await db.query<AuditRow>(
      `select ${AUDIT_COLUMNS} from audit_log where seq > $1 and recorded < $2 order by seq limit $3`,
      [last?.seq ?? 0, before.toISOString(), BATCH],
    )).rows;
    if (rows.length === 0) break;
    for (const raw of rows) {
      const row = {
        ...raw, seq: Number(raw.seq), recorded: new Date(raw.recorded).toISOString(),
        chain: Number(raw.chain), chain_seq: raw.chain_seq === null ? null : Number(raw.chain_seq),
      };
      const line = JSON.stringify(row) + '\n';
      digest.update(line);
      if (!stream.write(line)) await once(stream, 'drain');
      first ??= row;
      last = row;
      count += 1;
    }
  }
  stream.end();
  await once(stream, 'finish');
  const manifest: ArchiveManifest = {
    before: before.toISOString(), count, firstSeq: first?.seq ?? null, lastSeq: last?.seq ?? null,
    firstPrevHash: first?.prev_hash ?? null, lastHash: last?.hash ?? null, fileSha256: digest.digest('hex'), createdAt: now.toISOString(),
  };
  await writeFile(`${out}.manifest.json`, JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
  if (first && last) {
    await db.query(
      'insert into audit_archives (first_seq, last_seq, last_hash, file_sha256, location, created_at) values ($1, $2, $3, $4, $5, $6)',
      [first.seq, last.seq, last.hash, manifest.fileSha256, out, manifest.createdAt],
    );
  }
  return manifest;
}

/**
 * Re-checks an archive file's own chains (each entry linked to the previous entry of its chain in the file, and
 * self-consistent); returns the first bad seq, or the count when it is intact.
 */
export async function verifyArchive(file: string): Promise<{ ok: true; count: number; lastHash: string | null } | { ok: false; firstBadSeq: number }> {
  const previous = new Map<number, AuditRow>();
  let last: AuditRow | undefined;
  let count = 0;
  for await (const line of createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    const row = JSON.parse(line) as AuditRow;
    row.chain ??= 1;
    row.chain_seq ??= null;
    const prev = previous.get(row.chain);
    const linked = !prev || (positionOf(row) === positionOf(prev) + 1 && row.prev_hash === prev.hash);
    if (!linked || hashEntry(placeOf(row), row.prev_hash, rowFacts(row)) !== row.hash) return { ok: false, firstBadSeq: row.seq };
    previous.set(row.chain, row);
    last = row;
    count += 1;
  }
  return { ok: true, count, lastHash: last?.hash ?? null };
}

export interface ArchiveCheck {
  ok: boolean;
  text: string;
}

/**
 * An archive file checked on its own and against what vouches for it: each chain in the file linked and
 * self-consistent (`verifyArchive`); its manifest (`FILE.manifest.json`) when present — sha256, count, first and last
 * entry, so lines removed at either end are found; and, given the database, the export recorded in `audit_archives`
 * with this file's sha256 and every entry's hash equal to the live entry of the same seq.
 */
export async function checkArchive(file: string, db?: Queryable): Promise<ArchiveCheck> {
  const own = await verifyArchive(file);
  if (!own.ok) return { ok: false, text: `archive TAMPERED: entry ${own.firstBadSeq} was changed, removed or reordered in ${file}` };
  const bytes = await readFile(file);
  const sha = createHash('sha256').update(bytes).digest('hex');
  const rows = bytes.toString('utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as AuditRow);
  const first = rows[0];
  const last = rows.at(-1);
  const checked: string[] = ['its chains'];
  const manifestFile = `${file}.manifest.json`;
  if (existsSync(manifestFile)) {
    const m = JSON.parse(await readFile(manifestFile, 'utf8')) as ArchiveManifest;
    const wrong = [
      m.fileSha256 !== sha && 'sha256',
      m.count !== rows.length && `count (${rows.length}, manifest ${m.count})`,
      m.firstSeq !== (first ? Number(first.seq) : null) && 'first entry',
      m.lastSeq !== (last ? Number(last.seq) : null) && 'last entry',
      m.firstPrevHash !== (first?.prev_hash ?? null) && 'first previous hash',
      m.lastHash !== (last?.hash ?? null) && 'last hash',
    ].filter(Boolean);
    if (wrong.length) return { ok: false, text: `archive TAMPERED: ${file} does not match its manifest (${wrong.join(', ')})` };
    checked.push('its manifest');
  }
  if (db) {
    const recorded = (await db.query<{ n: number }>('select count(*)::int as n from audit_archives where file_sha256 = $1', [sha])).rows[0];
    if (rows.length && !recorded?.n) return { ok: false, text: `archive TAMPERED: the audit log recorded no export of ${file} (sha256 ${sha})` };
    for (let i = 0; i < rows.length; i += BATCH) {
      const part = rows.slice(i, i + BATCH);
      const live = new Map((await db.query<{ seq: number | string; hash: string }>(
        'select seq, hash from audit_log where seq = any($1::bigint[])', [part.map((r) => Number(r.seq))],
      )).rows.map((r) => [Number(r.seq), r.hash]));
      const bad = part.find((r) => live.has(Number(r.seq)) && live.get(Number(r.seq)) !== r.hash);
      if (bad) return { ok: false, text: `archive TAMPERED: entry ${bad.seq} differs from the audit log` };
    }
    checked.push('the audit log');
  }
  return { ok: true, text: `archive OK: ${rows.length} entries in ${file}, checked against ${checked.join(', ')}` };
}
