import { randomUUID } from 'node:crypto';
import type { Database, Queryable } from '../store/database.ts';
import { run } from '../store/database.ts';
import { sql } from '../store/sql.ts';

/**
 * `superseded`: accepted (AA) but nothing written, every result in it being older than what a newer message of its
 * order already stored (`hl7v2-result-order.ts`); the body is kept like a processed message's.
 */
export type InboxStatus = 'received' | 'processed' | 'error' | 'rejected' | 'discarded' | 'purged' | 'superseded';

export interface InboxMessage {
  id: string;
  received_at: Date;
  channel: string;
  sender: string;
  message_type: string | null;
  control_id: string | null;
  status: InboxStatus;
  reason: string | null;
  raw: string | null;
  ack: string | null;
}

/** Seals raw bodies at rest: they are PHI (names, addresses, SSNs in PID-19, results). The data key's field crypto. */
export interface BodyCipher {
  encrypt(plaintext: string): string;
  decrypt(stored: string): string;
}

type StoredMessage = InboxMessage & { raw_sealed?: boolean };

/** The message as callers see it: the body decrypted (rows written before sealing existed are plaintext). */
function opened(cipher: BodyCipher, row: StoredMessage): InboxMessage {
  const { raw_sealed: sealed, ...message } = row;
  return sealed && message.raw !== null ? { ...message, raw: cipher.decrypt(message.raw) } : message;
}

export interface NewMessage {
  channel: 'mllp' | 'http' | 'ccda' | 'import';
  sender: string;
  messageType?: string;
  controlId?: string;
  raw: string;
}

/**
 * Commits the raw message in its own transaction before anything else happens. Returns the existing row when
 * the same sender already sent this control id (the caller re-acknowledges it and applies nothing twice).
 */
export async function storeIncoming(db: Database, cipher: BodyCipher, m: NewMessage, now: Date): Promise<{ message: InboxMessage; duplicate: boolean }> {
  const id = randomUUID();
  const inserted = await run<StoredMessage>(db, sql`insert into ingest_messages (id, received_at, channel, sender, message_type, control_id, status, raw, raw_sealed)
    values (${id}, ${now.toISOString()}, ${m.channel}, ${m.sender}, ${m.messageType ?? null}, ${m.controlId || null}, 'received', ${cipher.encrypt(m.raw)}, true)
    on conflict do nothing returning *`);
  if (inserted[0]) return { message: opened(cipher, inserted[0]), duplicate: false };
  const existing = await run<StoredMessage>(db, sql`select * from ingest_messages where sender = ${m.sender} and control_id = ${m.controlId ?? ''}`);
  return { message: opened(cipher, existing[0]), duplicate: true };
}

/** What a message's stored answer was, when another run (a concurrent copy, an earlier retry) already settled it. */
export interface SettledMessage {
  status: InboxStatus;
  ack: string | null;
}

/** Stored states a run may take a message from: its first run (or crash recovery), or a retry of a failed one. */
export const FIRST_RUN: readonly InboxStatus[] = ['received'];
export const RESEND_OF_ERROR: readonly InboxStatus[] = ['error'];
export const ADMIN_RETRY: readonly InboxStatus[] = ['received', 'error', 'rejected'];

/**
 * Locks the inbox row for the rest of the transaction and says whether this run may settle it. A second copy of
 * the same control id waits here for the first one's transaction, then finds it settled and answers its outcome:
 * a message is never applied twice.
 */
export async function claimMessage(tx: Queryable, id: string, allowed: readonly InboxStatus[]): Promise<SettledMessage | undefined> {
  const row = (await run<SettledMessage>(tx, sql`select status, ack from ingest_messages where id = ${id} for update`))[0];
  // A row that no longer exists has nothing left to apply: answered like a purged one.
  if (!row) return { status: 'purged', ack: null };
  return allowed.includes(row.status) ? undefined : row;
}

export interface Outcome {
  status: InboxStatus;
  ack?: string;
  reason?: string;
  location?: string;
  patientIds?: string[];
  resources?: number;
  /** Resource keys (`Type/id`) of the message's clinical content: when none was stored (intake rules), no body is kept. */
  clinical?: string[];
  now: Date;
}

export async function markOutcome(tx: Queryable, id: string, o: Outcome): Promise<void> {
  // The message is filed under the persons of the source Patients it wrote or names (looked up here: one statement
  // fewer per message), so an opt-out purge finds its body. A message about an opted-out person is acknowledged as
  // usual, but its body is not kept (privacy-rules §2); nor is the body of one whose clinical content the intake rules
  // discarded for a person who opted back in (§3: checked only for such persons, so other messages pay nothing).
  const clinical = o.clinical ?? [];
  await run(tx, sql`with p as (select coalesce(array_agg(distinct l.person_id order by l.person_id), '{}') as ids from mpi_links l where l.patient_id = any(${o.patientIds ?? []}::text[]))
    update ingest_messages set status = ${o.status}, ack = ${o.ack ?? null}, reason = ${o.reason ?? null},
    error_location = ${o.location ?? null}, person_ids = p.ids, resources = ${o.resources ?? 0}, processed_at = ${o.now.toISOString()},
    raw = case when exists (select 1 from person_privacy pp where pp.person_id = any(p.ids) and pp.opted_out) then null
      when cardinality(${clinical}::text[]) > 0
        and exists (select 1 from person_privacy pp where pp.person_id = any(p.ids) and pp.opt_in_date is not null)
        and not exists (select 1 from resources r where r.resource_type || '/' || r.id = any(${clinical}::text[])) then null
      else raw end
    from p where id = ${id}`);
}

/** Records a run's failure unless another run settled the message first (then that outcome is returned). */
export async function settleFailure(db: Database, id: string, allowed: readonly InboxStatus[], o: Outcome): Promise<SettledMessage | undefined> {
  return db.transaction(async (tx) => {
    const settled = await claimMessage(tx, id, allowed);
    if (!settled) await markOutcome(tx, id, o);
    return settled;
  });
}

const RECOVERY_PAGE = 500;

/**
 * Messages committed but never processed (a crash between commit and apply), oldest first, a page at a time after
 * the cursor (received time, id), so recovery always moves on even past a row that stays `received`.
 */
export async function pendingMessages(db: Queryable, cipher: BodyCipher, after?: { receivedAt: Date; id: string }): Promise<InboxMessage[]> {
  const at = after?.receivedAt.toISOString() ?? '-infinity';
  const rows = await run<StoredMessage>(db, sql`select * from ingest_messages where status = 'received'
    and (received_at, id) > (${at}::timestamptz, ${after?.id ?? ''}) order by received_at, id limit ${RECOVERY_PAGE}`);
  return rows.map((r) => opened(cipher, r));
}

export async function getMessage(db: Queryable, cipher: BodyCipher, id: string): Promise<InboxMessage | undefined> {
  const row = (await run<StoredMessage>(db, sql`select * from ingest_messages where id = ${id}`))[0];
  return row && opened(cipher, row);
}

/** A `received` message older than this is stuck (a run failed without settling it): the error queue shows it. */
export const STUCK_AFTER_MINUTES = 5;

export async function errorQueue(db: Queryable, limit = 200): Promise<InboxMessage[]> {
  return run<InboxMessage>(db, sql`select id, received_at, channel, sender, message_type, control_id, status, reason, error_location, null as raw, null as ack
    from ingest_messages where status in ('error', 'rejected')
      or (status = 'received' and received_at < now() - make_interval(mins => ${STUCK_AFTER_MINUTES}))
    order by received_at desc limit ${limit}`);
}

/** Opt-out: raw messages that carried the person's clinical content lose their bodies (the row stays as a count). */
export async function purgeRawForPerson(tx: Queryable, personId: string): Promise<number> {
  const rows = await run<{ n: number }>(tx, sql`with p as (update ingest_messages set raw = null, ack = null, status = 'purged'
    where ${personId} = any(person_ids) and raw is not null returning 1) select count(*)::int as n from p`);
  return rows[0]?.n ?? 0;
}

/** What `resealInbox` needs of the data key's field crypto. */
export interface ResealCipher extends BodyCipher {
  keyIdOf(stored: string): string;
  readonly currentKeyId: string;
}

const RESEAL_PAGE = 500;

/**
 * Part of `katahdin keys rotate`: every stored body ends up sealed with the current data key — bodies sealed with an
 * older key are re-encrypted, and bodies stored before sealing existed (plaintext) are sealed. A page at a time, so
 * an inbox of millions of messages never sits in memory; each page is one update. Safe to run again.
 */
export async function resealInbox(db: Queryable, cipher: ResealCipher): Promise<{ examined: number; resealed: number; sealedPlaintext: number }> {
  let examined = 0;
  let resealed = 0;
  let sealedPlaintext = 0;
  let after = '';
  for (;;) {
    const rows = await run<{ id: string; raw: string; raw_sealed: boolean }>(db, sql`select id, raw, raw_sealed from ingest_messages
      where id > ${after} and raw is not null order by id limit ${RESEAL_PAGE}`);
    if (rows.length === 0) break;
    after = rows[rows.length - 1].id;
    examined += rows.length;
    const changed: Array<{ id: string; raw: string }> = [];
    for (const r of rows) {
      if (!r.raw_sealed) {
        sealedPlaintext++;
        changed.push({ id: r.id, raw: cipher.encrypt(r.raw) });
      } else if (cipher.keyIdOf(r.raw) !== cipher.currentKeyId) {
        resealed++;
        changed.push({ id: r.id, raw: cipher.encrypt(cipher.decrypt(r.raw)) });
      }
    }
    if (changed.length) {
      await run(db, sql`update ingest_messages m set raw = c.raw, raw_sealed = true
        from unnest(${changed.map((c) => c.id)}::text[], ${changed.map((c) => c.raw)}::text[]) as c(id, raw) where m.id = c.id`);
    }
  }
  return { examined, resealed, sealedPlaintext };
}
