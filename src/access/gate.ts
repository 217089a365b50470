import type { Resource } from '@medplum/fhirtypes';
import type { Config } from '../config.ts';
import { FhirError, forbidden, gone, notFound } from '../fhir/outcome.ts';
import type { Database, Queryable } from '../store/database.ts';
import type { StoredRow } from '../store/resource-store.ts';
import type { AuditAction, AuditSink, AuditRecord } from './audit-sink.ts';
import type { AccessContext } from './context.ts';
import { GateScope, type RecordedOutcome, type SearchResult } from './gate-scope.ts';
import type { FilterSettings } from './privacy-filter.ts';
import type { FieldProtector } from './field-protector.ts';
import type { SearchEngine } from './search-engine.ts';

export interface GateDeps {
  db: Database;
  config: Pick<Config, 'careRelationshipMonths'>;
  audit: AuditSink;
  protector: FieldProtector;
  search: SearchEngine;
  clock?: () => Date;
}

export interface GateRequest {
  /** What the caller is doing, for the audit event when the work itself does not say more. */
  action: AuditAction;
  query?: string;
}

/**
 * The one door to the store. Every read or write of the record runs inside `run`: one transaction in which
 * the scope authorizes, filters in SQL, checks and redacts each outgoing resource, and collects audit records,
 * which are appended before commit. If the audit append fails the whole access fails. A denied or failed
 * access is audited in its own transaction, because the work's transaction is rolled back. Reads by id and plain
 * searches take the same steps in a single statement that also appends the audit entry (`read`, `search`).
 */
export class AccessGate {
  /**
   * Whether reads by id and plain searches run as single statements (`read`, `search`). That saves the round trips
   * of a transaction block, which the embedded database, running in this process, does not have; there the larger
   * statement only costs more to plan (measured on PGlite: 313 against 345 reads/s in a transaction).
   */
  private readonly singleStatementReads: boolean;

  constructor(private readonly deps: GateDeps) {
    this.singleStatementReads = deps.db.dialect === 'postgres';
  }

  settings(): FilterSettings {
    return { now: this.deps.clock?.() ?? new Date(), careRelationshipMonths: this.deps.config.careRelationshipMonths };
  }

  async run<T>(ctx: AccessContext, request: GateRequest, work: (scope: GateScope) => Promise<T>): Promise<T> {
    const settings = this.settings();
    try {
      return await this.deps.db.transaction(async (tx) => {
        const scope = new GateScope(tx, ctx, settings, this.deps.protector, this.deps.search);
        const result = await work(scope);
        const records = scope.auditRecords();
        if (records.length === 0) records.push(baseRecord(ctx, request, 'success'));
        await this.deps.audit.append(tx, records);
        return result;
      });
    } catch (err) {
      return this.failed(ctx, request, err);
    }
  }

  /**
   * A read by id: on PostgreSQL one statement that reads, decides and records (`GateScope.readRecorded`); only when
   * every audit chain head is busy does it read in a transaction that waits for one, like any other access.
   */
  async read(ctx: AccessContext, type: string, id: string): Promise<Resource> {
    const recorded = this.singleStatementReads ? await this.recorded(ctx, { action: 'read' }, (scope) => scope.readRecorded(type, id, this.deps.audit)) : undefined;
    return recorded ?? this.run(ctx, { action: 'read' }, (scope) => scope.read(type, id));
  }

  /** A search: one statement with its audit entry when it is a plain one (`GateScope.searchRecorded`), else a transaction. */
  async search(ctx: AccessContext, type: string, query: Array<[string, string]>, strict: boolean): Promise<SearchResult> {
    const recorded = this.singleStatementReads ? await this.recorded(ctx, { action: 'search' }, (scope) => scope.searchRecorded(type, query, strict, this.deps.audit)) : undefined;
    return recorded ?? this.run(ctx, { action: 'search' }, (scope) => scope.searchType(type, query, strict));
  }

  /** Runs a recorded (single-statement) access; undefined when it could not run that way and nothing was recorded. */
  private async recorded<T>(ctx: AccessContext, request: GateRequest, work: (scope: GateScope) => Promise<RecordedOutcome<T> | undefined>): Promise<T | undefined> {
    const scope = new GateScope(this.deps.db, ctx, this.settings(), this.deps.protector, this.deps.search);
    let outcome: RecordedOutcome<T> | undefined;
    try {
      outcome = await work(scope);
    } catch (err) {
      return this.failed(ctx, request, err);
    }
    if (outcome?.kind === 'refused') {
      auditedFailures.add(outcome.error);
      throw outcome.error;
    }
    return outcome?.kind === 'delivered' ? outcome.value : undefined;
  }

  /** Audits a failed access in its own transaction, marks the error as audited and rethrows it. */
  private async failed(ctx: AccessContext, request: GateRequest, err: unknown): Promise<never> {
    await this.auditFailure(ctx, request, err);
    if (typeof err === 'object' && err !== null) auditedFailures.add(err);
    throw err;
  }

  /** Audits a refusal decided before the gate was entered (a route's role check), so denied calls never go unrecorded. */
  async refused(ctx: AccessContext, request: GateRequest, err: unknown): Promise<void> {
    await this.auditFailure(ctx, request, err);
  }

  private async auditFailure(ctx: AccessContext, request: GateRequest, err: unknown): Promise<void> {
    const status = err instanceof FhirError ? err.status : 500;
    if (status === 404 || status === 410) return this.appendAlone(baseRecord(ctx, request, 'error', `status ${status}`));
    const outcome = status === 401 || status === 403 ? 'denied' : 'error';
    const detail = err instanceof FhirError ? err.message.slice(0, 200) : 'internal error';
    await this.appendAlone(baseRecord(ctx, request, outcome, detail));
  }

  private async appendAlone(record: AuditRecord): Promise<void> {
    await this.deps.db.transaction((tx: Queryable) => this.deps.audit.append(tx, [record]));
  }
}

const auditedFailures = new WeakSet<object>();

/** Whether the gate already recorded this failure (so the HTTP layer does not record it twice). */
export function auditedByGate(err: unknown): boolean {
  return typeof err === 'object' && err !== null && auditedFailures.has(err);
}

function baseRecord(ctx: AccessContext, request: GateRequest, outcome: AuditRecord['outcome'], detail?: string): AuditRecord {
  return { ctx, action: request.action, outcome, personIds: [], resources: [], query: request.query, detail };
}

export { GateScope, forbidden, gone, notFound };
export type { Resource, StoredRow };
