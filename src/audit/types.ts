import { randomUUID } from 'node:crypto';
import type { AccessContext } from '../access/context.ts';

/** Everything the HIE audits. A superset of the gate's `AuditAction`, so its records can be passed as they are. */
export type AuditAction =
  | 'read' | 'vread' | 'search' | 'create' | 'update' | 'delete' | 'history' | 'everything' | 'match'
  | 'export' | 'notify' | 'document' | 'binary' | 'ingest' | 'login' | 'login-failed' | 'logout' | 'token' | 'consent'
  | 'mpi-link' | 'mpi-unlink' | 'mpi-merge' | 'break-glass' | 'attest' | 'denied' | 'purge' | 'admin'
  | 'capabilities' | 'validate' | 'operation' | 'audit-review' | 'audit-request' | 'audit-report'
  | 'revoke' | 'disable' | 'enable';

/** How the gate justified access to the person: recorded so privacy officers can find access without one. */
export type Relationship = 'none' | 'encounter' | 'attestation' | 'break-glass';

export type AuditOutcome = 'success' | 'denied' | 'error';

/** One audited act. Never put SSNs or clinical content in `query` or `detail` (query values that look like SSNs are masked anyway). */
export interface AuditInput {
  ctx: AccessContext;
  action: AuditAction;
  outcome: AuditOutcome;
  /** Enterprise (MPI) person ids the act touched; one search naming 20 people = one input with 20 ids. */
  personIds: string[];
  /** `Type/id` references of the resources read or written; `accountRef`s of the users and clients acted on. */
  resources: string[];
  /** The search or operation query (`Observation?patient=…`), stored base64 in the event. */
  query?: string;
  /** Short technical detail (status, reason code) — no PHI. */
  detail?: string;
  relationship?: Relationship;
}

/** The compact, searchable columns of one log row (everything except chain fields). */
export interface AuditFacts {
  recorded: string;
  action: AuditAction;
  subtype: string;
  outcome: AuditOutcome;
  purpose: string | null;
  agentUserId: string | null;
  agentName: string;
  agentRole: string;
  agentOrg: string | null;
  agentClient: string | null;
  sourceIp: string | null;
  personIds: string[];
  entityRefs: string[];
  relationship: Relationship | null;
  breakGlass: boolean;
  /**
   * Canonical AuditEvent JSON: only in entries written before compact entries. Compact entries carry `query` and
   * `detail` instead, and their AuditEvent is rebuilt from the facts (`eventOfRow`).
   */
  event?: string;
  /** The search or operation query, SSN-like numbers masked (compact entries). */
  query?: string | null;
  /** Short technical detail, masked and cut to 200 characters (compact entries). */
  detail?: string | null;
}

const MARKER = randomUUID();

/**
 * Stand, in an entry of a recorded read (`recordedReadStatement`), for the persons and for the references of the rows
 * the read finds: `personIds: [ROW_PERSONS]`, `resources: [ROW_REFS]`. Random per process, so no value a caller
 * supplies (a display name, a query) can contain them.
 */
export const ROW_PERSONS = `row-persons-${MARKER}`;
export const ROW_REFS = `row-refs-${MARKER}`;
