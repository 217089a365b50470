import type { Queryable } from '../store/database.ts';
import { checkArchive, exportArchive, type ArchiveManifest } from './archive.ts';
import { appendCheckpointLog, loadCheckpointKey, readCheckpointLog, writeCheckpoint } from './checkpoint.ts';
import { verifyChain, type VerifyResult } from './verify.ts';

/** What the CLI prints and its exit status. */
export interface CommandResult<T> {
  ok: boolean;
  text: string;
  result: T;
}

const PROBLEM_TEXT: Record<string, string> = {
  changed: 'entry was changed',
  removed: 'entry is missing (removed)',
  reordered: 'entries were reordered',
  'checkpoint-mismatch': 'does not match a signed checkpoint (the chain was rewritten up to here, or the checkpoint was forged)',
  truncated: 'and every later entry are missing (the log was truncated)',
};

/** `katahdin audit verify`: walks the chain and checks checkpoints with the key in `keyDir` when present. */
export async function auditVerify(db: Queryable, keyDir: string): Promise<CommandResult<VerifyResult>> {
  const key = await loadCheckpointKey(keyDir);
  const result = await verifyChain(db, { key, externalCheckpoints: await readCheckpointLog(keyDir) });
  if (result.ok) {
    const sig = result.signaturesChecked ? 'signatures verified' : 'signatures NOT checked (no checkpoint key found)';
    return { ok: true, result, text: `audit log OK: ${result.count} entries, ${result.checkpoints} checkpoints, ${sig}` };
  }
  const where = result.chain === 1 ? `entry ${result.firstBadSeq}` : `entry ${result.firstBadSeq} of chain ${result.chain}`;
  return { ok: false, result, text: `audit log TAMPERED: ${where} ${PROBLEM_TEXT[result.problem]}` };
}

/** `katahdin audit checkpoint`: signs the current heads (creating the key on first use). */
export async function auditCheckpoint(db: Queryable, keyDir: string): Promise<CommandResult<{ seq: number; hash: string; chains: number }>> {
  const key = (await loadCheckpointKey(keyDir, { create: true }))!;
  const cps = await writeCheckpoint(db, key);
  await appendCheckpointLog(keyDir, cps);
  const [first, ...others] = cps;
  const more = others.length ? ` (and the heads of ${others.length} more chains)` : '';
  return { ok: true, result: { seq: first.seq, hash: first.hash, chains: others.length + 1 }, text: `checkpoint at entry ${first.seq}${more} signed with key ${first.keyId}` };
}

/** `katahdin audit export --before DATE --out FILE`: NDJSON archive plus manifest; rows stay in the database. */
export async function auditExport(db: Queryable, opts: { before: Date; out: string }): Promise<CommandResult<ArchiveManifest>> {
  if (Number.isNaN(opts.before.getTime())) return { ok: false, text: 'invalid --before date', result: emptyManifest(opts.before) };
  const m = await exportArchive(db, opts.before, opts.out);
  const range = m.count ? `entries ${m.firstSeq}–${m.lastSeq}, last hash ${m.lastHash}` : 'no entries';
  return { ok: true, result: m, text: `exported ${m.count} audit entries before ${m.before} to ${opts.out} (${range}); manifest ${opts.out}.manifest.json` };
}

/** `katahdin audit verify-archive --file FILE`: the file's chains, its manifest, and the log's record of the export. */
export async function auditVerifyArchive(db: Queryable, file: string): Promise<CommandResult<null>> {
  const res = await checkArchive(file, db);
  return { ...res, result: null };
}

function emptyManifest(before: Date): ArchiveManifest {
  return { before: String(before), count: 0, firstSeq: null, lastSeq: null, firstPrevHash: null, lastHash: null, fileSha256: '', createdAt: new Date().toISOString() };
}
