import type { Queryable } from '../store/database.ts';
import type { Sql } from '../store/sql.ts';
import type { AccessContext } from './context.ts';

import type { AuditAction } from '../audit/types.ts';
import { ROW_PERSON } from '../audit/types.ts';

export type { AuditAction };
export { ROW_PERSON };

/** One audit record as the gate collects it; the audit module turns it into a chained FHIR AuditEvent. */
export interface AuditRecord {
  ctx: AccessContext;
  action: AuditAction;
  outcome: 'success' | 'denied' | 'error';
  personIds: string[];
  resources: string[];
  query?: string;
  detail?: string;
  relationship?: 'encounter' | 'attestation' | 'break-glass' | 'none';
}

/** A read of at most one row whose audit entry depends on what it finds (see `AuditSink.readStatement`). */
export interface RecordedRead {
  /** The statement reading at most one row; its columns include `person_id`. */
  read: Sql;
  /** An expression over the read's columns (alias `x`, all null when nothing was found) naming the entry to record. */
  choose: Sql;
  /** The entries it can choose from, by name; `ROW_PERSON` in `personIds` stands for the row's `person_id`. */
  entries: Record<string, AuditRecord>;
}

export interface AuditSink {
  /** Appends in the caller's transaction; throwing makes the access fail. */
  append(tx: Queryable, records: AuditRecord[]): Promise<void>;
  /**
   * One statement that runs `read` and appends the entry `choose` names: a read by id and its audit entry commit
   * together in one round trip, without BEGIN and COMMIT. Its row: the read's columns (null when nothing was found),
   * `entry` (the chosen name) and `audited` — false when every audit chain head was held by another transaction, in
   * which case nothing was recorded and nothing may be delivered.
   */
  readStatement(read: RecordedRead, now: Date): Sql;
}
