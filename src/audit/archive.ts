import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import type { Queryable } from '../store/database.ts';
import { AUDIT_COLUMNS, hashEntry, placeOf, positionOf, rowFacts, type AuditRow } from './entry.ts';

/**
 * Retention: entries recorded before a cutoff are exported as NDJSON, one stored row per line with its seq,
 * prev_hash and hash, so the archive verifies on its own (`verifyArchive`) and links to the live chain
 * (the manifest's lastHash is the prev_hash of the next live entry). The rows are NOT deleted: the log is
 * append-only and `verifyChain` walks from seq 1. Dropping archived rows would need a privileged prune that
 * records the manifest as the chain's new anchor — not implemented.
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
