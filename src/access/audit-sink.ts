import type { Queryable, Statement } from '../store/database.ts';
import type { Sql } from '../store/sql.ts';
import type { AccessContext } from './context.ts';

import type { AuditAction } from '../audit/types.ts';
import { ROW_PERSONS, ROW_REFS } from '../audit/types.ts';

export type { AuditAction };
export { ROW_PERSONS, ROW_REFS };

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

/** A read whose audit entry depends on what it finds (see `AuditSink.readStatement`). */
export interface RecordedRead {
  /** The statement reading the rows; its columns include `resource_type`, `id`, `person_id` and `ord`, their order. */
  read: Sql;
  /** An aggregate expression over the rows read (alias `x`; it sees no rows when nothing was found) naming the entry to record. */
  choose: Sql;
  /** The entries it can choose from, by name; `ROW_PERSONS` and `ROW_REFS` stand for the persons and references of the rows. */
  entries: Record<string, AuditRecord>;
}

export interface AuditSink {
  /** Appends in the caller's transaction; throwing makes the access fail. */
  append(tx: Queryable, records: AuditRecord[]): Promise<void>;
  /** The statements `append` runs, for a caller that sends them itself (a read group, right before its COMMIT). */
  appendStatements(records: AuditRecord[]): Statement[];
  /**
   * One statement that runs `read` and appends the entry `choose` names: a read and its audit entry commit together
   * in one round trip, without BEGIN and COMMIT. Its rows: the read's rows in `ord` order (one row of nulls when
   * nothing was found), each with `audited`: true when the entry was appended; the caller delivers nothing otherwise.
   */
  readStatement(read: RecordedRead, now: Date): Sql;
}
