import type { Queryable } from '../store/database.ts';
import type { AccessContext } from './context.ts';

import type { AuditAction } from '../audit/types.ts';

export type { AuditAction };

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

export interface AuditSink {
  /** Appends in the caller's transaction; throwing makes the access fail. */
  append(tx: Queryable, records: AuditRecord[]): Promise<void>;
}
