import type { Resource } from '@medplum/fhirtypes';
import { FhirError, forbidden, gone, notFound } from '../fhir/outcome.ts';
import type { Queryable } from '../store/database.ts';
import { run } from '../store/database.ts';
import type { StoredRow } from '../store/resource-store.ts';
import { readCurrentForUpdate, readHistory, readVersion, writeVersion } from '../store/resource-store.ts';
import { join, raw, sql, type Sql } from '../store/sql.ts';
import type { AuditAction, AuditRecord, AuditSink } from './audit-sink.ts';
import { ROW_PERSONS, ROW_REFS } from './audit-sink.ts';
import type { AccessContext } from './context.ts';
import type { FieldProtector } from './field-protector.ts';
import { authorizeRead } from './authorize.ts';
import { hasQueryRole, readableTypes } from './scopes.ts';
import type { OutgoingRow } from './outgoing.ts';
import { demographicsOnly, verdictFor } from './outgoing.ts';
import type { FactColumns, PersonFacts } from './person-facts.ts';
import { factsFromColumns, knownStanding, loadDeliveryFacts, loadPersonFacts } from './person-facts.ts';
import type { FilterSettings } from './privacy-filter.ts';
import { ownRecordsFilter, perPersonFilter, privacyFilter, standingColumns, type PerPersonFilter } from './privacy-filter.ts';
import type { IncludeRow, ParsedSearch, ResultRow, SearchEngine } from './search-engine.ts';
import type { WriteInput } from './write-batch.ts';
import { addLabelsInPlace } from './stored-labels.ts';
import { currentRowsForWrite, labelsByReference, V3_ACT_CODE, writeBatch } from './write-batch.ts';
import { searchBatch } from './search-batch.ts';

export type { WriteInput } from './write-batch.ts';

export interface DeliverOptions {
  /** The search or operation, for the audit entry. */
  query?: string;
  /** Withhold rows the caller may only see reduced to demographics (a bulk export hands over whole resources only). */
  wholeOnly?: boolean;
}

export interface SearchResult {
  request: ParsedSearch;
  matches: Resource[];
  included: Resource[];
  /** `_include:iterate` / `_revinclude:iterate` stopped at the deepest level they follow with more to include. */
  includesBeyondDepth?: boolean;
  total?: number;
  warnings: string[];
}

const ROW_COLUMNS = sql`r.resource_type, r.id, r.content, r.person_id, r.source_org, r.security`;

/** A row read with `deliveryColumns`. */
interface DeliveryRow extends ResultRow, FactColumns {
  org_name: string | null;
}

/** A current row with the privacy verdict and facts that `currentChecked` reads in one statement. */
interface CheckedRow extends DeliveryRow {
  deleted: boolean;
  visible: boolean;
}

/** What a recorded read or search (`GateScope.readRecorded`, `searchRecorded`) came to. */
export type RecordedOutcome<T> =
  | { kind: 'delivered'; value: T }
  /** Not found, deleted or refused: the error to answer with, already in the audit log. */
  | { kind: 'refused'; error: FhirError };

/** The statement's own check that its entry was appended: nothing is delivered that was not recorded. */
function assertAudited(row: { audited: boolean } | undefined): void {
  if (!row?.audited) throw new Error('recorded read: audit entry not written');
}

/**
 * The labels a stored version is decided on: its own and the current row's. A correction that dropped a label does not
 * release the labelled version, and a label gained since (relabelling) covers the older ones.
 */
function versionLabels(current: { security: string[] }, version: { security: string[] }): string[] {
  return unique([...current.security, ...version.security]);
}

/** Whether the caller has any relationship with the row's person, by its fact columns (alias `x`). */
const RELATED = raw('(x.fact_enc or x.fact_att or x.fact_btg)');

/**
 * Which audit entry a read by id writes, from the row it found (at most one: the aggregate only makes "none found"
 * a value): the outcome `read` reaches and the relationship `deliverWith` records (break-the-glass first, then
 * encounter, attestation, none; none at all for a row without a person).
 */
const READ_ENTRY = sql`coalesce(min(case when x.deleted then 'deleted'
  when not x.visible then case when ${RELATED} then 'denied' else 'denied-unrelated' end
  when x.person_id is null then 'shared'
  when x.fact_btg then 'break-glass' when x.fact_enc then 'encounter' when x.fact_att then 'attestation' else 'none' end), 'missing')`;

/**
 * Which audit entry a search writes, from its page: the relationship `deliverWith` summarises over the page's persons
 * (break-the-glass with any, none with any, else the first person's), none at all for a page without persons.
 */
const SEARCH_ENTRY = sql`case when count(x.person_id) = 0 then 'shared'
  when bool_or(x.fact_btg) then 'break-glass'
  when bool_or(not (x.fact_enc or x.fact_att)) filter (where x.person_id is not null) then 'none'
  when (array_agg(x.fact_enc order by x.ord) filter (where x.person_id is not null))[1] then 'encounter'
  else 'attestation' end`;

/**
 * The audit entries of recorded accesses by caller, action and query: the same caller's reads share one entries
 * object, so its canonical text is built once (`recordedReadStatement` caches it against the object), not per request.
 */
const ENTRIES = new Map<string, Record<string, AuditRecord>>();
const MAX_ENTRIES = 2000;

/** Everything of the context except the request id can reach an entry: listed (not serialised, this runs per read). */
const ENTRY_FIELDS = ['userId', 'clientId', 'displayName', 'role', 'organizationId', 'scopes', 'purposeOfUse', 'personId', 'sourceIp', 'internal'] as const;
/** Fails to compile when AccessContext gains a field that is neither listed above nor the request id. */
type EveryFieldListed<Unlisted extends never> = Unlisted;
type AccessContextFieldsListed = EveryFieldListed<Exclude<keyof AccessContext, (typeof ENTRY_FIELDS)[number] | 'requestId'>>;

function cachedEntries(ctx: AccessContext, key: string, build: () => Record<string, AuditRecord>): Record<string, AuditRecord> {
  const full = `${key}\n${ENTRY_FIELDS.map((f) => String(ctx[f] ?? '')).join('\n')}`;
  let entries = ENTRIES.get(full);
  if (!entries) {
    if (ENTRIES.size >= MAX_ENTRIES) ENTRIES.delete(ENTRIES.keys().next().value!);
    entries = build();
    ENTRIES.set(full, entries);
  }
  return entries;
}

/** One transaction's view of the store for one caller. Created only by `AccessGate`. */
export class GateScope {
  private readonly records: AuditRecord[] = [];
  readonly filter: (alias: string) => ReturnType<typeof sql>;
  private readonly perPerson: PerPersonFilter | undefined;
  /** The types the token's scopes let it read (undefined: all); paths returning several types withhold the rest. */
  private readonly readable: string[] | undefined;

  constructor(
    /** Only for fact tables (MPI links, privacy facts); never for reading `resources`. */
    readonly tx: Queryable,
    readonly ctx: AccessContext,
    readonly settings: FilterSettings,
    private readonly protector: FieldProtector,
    private readonly search?: SearchEngine,
  ) {
    this.filter = privacyFilter(ctx, settings);
    this.perPerson = perPersonFilter(ctx, settings);
    this.readable = ctx.internal ? undefined : readableTypes(ctx.scopes);
  }

  /** This server's FHIR base, where a search engine is configured (attachment URLs under it name local Binaries). */
  get fhirBase(): string | undefined {
    return this.search?.fhirBase;
  }

  /** `and` the row at alias `a` is of a type the token may read, so totals and paging of mixed-type paths agree with what is delivered. */
  private scopedTypes(a: Sql): Sql {
    return this.readable ? sql` and ${a}.resource_type = any(${this.readable}::text[])` : sql``;
  }

  auditRecords(): AuditRecord[] {
    return this.records;
  }

  /** Lets a search by SSN find it where it is kept (keyed hashes), since resources and the index hold only its mask. */
  private readonly protectedHashes = (system: string, value: string) => this.protector.searchHashes(system, value);

  note(action: AuditAction, personIds: string[], resources: string[], extra: Partial<AuditRecord> = {}): void {
    this.records.push({ ctx: this.ctx, action, outcome: 'success', personIds: unique(personIds), resources, ...extra });
  }

  async read(type: string, id: string, action: AuditAction = 'read'): Promise<Resource> {
    authorizeRead(this.ctx, type);
    const row = await this.currentChecked(type, id);
    if (!row) throw notFound(`${type}/${id} is not known`);
    if (row.deleted) throw gone(`${type}/${id} was deleted`);
    return this.deliverOne(row, row.content, action);
  }

  /**
   * A read by id in ONE statement with its audit entry (`AuditSink.readStatement`): the row, the privacy filter's
   * verdict, the caller's standing with its person and the entry for whatever the outcome is — delivered, not found,
   * deleted or refused, each recorded exactly as `read` in a gate transaction records it — commit together, without
   * the BEGIN and COMMIT round trips. Here, and in `searchRecorded`, `tx` is the database itself rather than a
   * transaction. The outgoing check still runs on the row; should it refuse what the SQL filter let through, the error
   * is not yet audited and the gate records the refusal (the log then shows both).
   */
  async readRecorded(type: string, id: string, sink: AuditSink): Promise<RecordedOutcome<Resource>> {
    authorizeRead(this.ctx, type);
    const entries = cachedEntries(this.ctx, 'read', () => {
      const entry = (outcome: AuditRecord['outcome'], detail?: string): AuditRecord =>
        ({ ctx: this.ctx, action: 'read', outcome, personIds: [], resources: [], detail });
      // The entries `AccessGate` writes for a failed access: 404 and 410 as errors, 403 as a denial with its message.
      return {
        missing: entry('error', 'status 404'),
        deleted: entry('error', 'status 410'),
        denied: entry('denied', this.denialMessage(false).slice(0, 200)),
        'denied-unrelated': entry('denied', this.denialMessage(true).slice(0, 200)),
        ...this.deliveryEntries('read'),
      };
    });
    const read = this.checkedRowSql(type, id, sql`, 1 as ord`);
    const [row] = await run<CheckedRow & { audited: boolean }>(this.tx, sink.readStatement({ read, choose: READ_ENTRY, entries }, this.settings.now));
    assertAudited(row);
    if (row.id === null) return { kind: 'refused', error: notFound(`${type}/${id} is not known`) };
    if (row.deleted) return { kind: 'refused', error: gone(`${type}/${id} was deleted`) };
    if (!row.visible) return { kind: 'refused', error: this.denial(factsFromColumns(row.person_id ?? '', row)) };
    return { kind: 'delivered', value: this.deliverOne(row, row.content, 'read') };
  }

  /**
   * A plain search (no `_include`, not `_summary=count`) in ONE statement with its audit entry, like `readRecorded`:
   * the page, its total, the facts the outgoing check needs and the entry naming the page's persons and resources.
   * Undefined for other searches, which run in a transaction.
   */
  async searchRecorded(type: string, query: Array<[string, string]>, strict: boolean, sink: AuditSink): Promise<RecordedOutcome<SearchResult> | undefined> {
    authorizeRead(this.ctx, type, 's');
    const engine = this.requireSearch();
    const { request, warnings } = engine.parse(type, query, strict, this.protectedHashes);
    if (request.hasIncludes || request.summary === 'count') return undefined;
    const read = this.pageSql(engine, request);
    const text = queryText(type, query);
    const rows = await run<DeliveryRow & { total_matches?: number; audited: boolean }>(
      this.tx,
      sink.readStatement({ read, choose: SEARCH_ENTRY, entries: cachedEntries(this.ctx, `search\n${text}`, () => this.deliveryEntries('search', text)) }, this.settings.now),
    );
    assertAudited(rows[0]);
    const page = rows.filter((r) => r.id !== null);
    const total = await this.pageTotal(engine, request, page);
    return { kind: 'delivered', value: { request, matches: this.deliverRows(page, 'search', { query: text }), included: [], total, warnings } };
  }

  /** The page of a search with the columns the outgoing check needs, and with its total unless `_total=none`. */
  private pageSql(engine: SearchEngine, request: ParsedSearch): Sql {
    const delivery = (alias: string) => this.deliveryColumns(raw(alias));
    // A page without total is filtered row by row, so PostgreSQL may stop at the page; with a total every match is
    // needed, and split per person the page rows bring their person's standing from the search itself.
    if (request.total === 'none') return engine.page(request, this.filter, delivery);
    const columns = this.perPerson ? (alias: string) => this.orgNameColumn(raw(alias)) : delivery;
    return engine.pageWithTotal(request, this.filter, columns, this.perPerson);
  }

  /** The total a page carries; only a page past the end (no rows) needs the count on its own. */
  private async pageTotal(engine: SearchEngine, request: ParsedSearch, page: Array<{ total_matches?: number }>): Promise<number | undefined> {
    if (request.total === 'none') return undefined;
    if (page.length) return Number(page[0].total_matches);
    return request.offset === 0 ? 0 : this.countAll(engine, request);
  }

  private async countAll(engine: SearchEngine, request: ParsedSearch): Promise<number | undefined> {
    return (await run<{ total: number }>(this.tx, engine.count(request, this.filter, this.perPerson)))[0]?.total;
  }

  /** The entries `deliverWith` writes for delivered rows, by the relationship it records (`shared`: rows without a person). */
  private deliveryEntries(action: AuditAction, query?: string): Record<string, AuditRecord> {
    const delivered = (relationship?: NonNullable<AuditRecord['relationship']>): AuditRecord => ({
      // As in `deliverWith`: what is seen while break-the-glass is active is emergency access.
      ctx: relationship === 'break-glass' ? { ...this.ctx, purposeOfUse: 'ETREAT' as const } : this.ctx,
      action, outcome: 'success', personIds: [ROW_PERSONS], resources: [ROW_REFS], query, relationship,
    });
    return {
      shared: delivered(), 'break-glass': delivered('break-glass'), encounter: delivered('encounter'),
      attestation: delivered('attestation'), none: delivered('none'),
    };
  }

  async vread(type: string, id: string, version: number): Promise<Resource> {
    authorizeRead(this.ctx, type);
    const current = await this.currentChecked(type, id);
    const row = current && (await readVersion(this.tx, type, id, version));
    if (!current || !row) throw notFound(`${type}/${id}/_history/${version} is not known`);
    if (row.deleted) throw gone(`${type}/${id} version ${version} is a deletion`);
    return this.deliverOne({ ...current, security: versionLabels(current, row) }, row.content, 'vread');
  }

  /**
   * The current row of one resource with, in the same statement, the privacy filter's verdict on it, the caller's
   * standing with its person and its source organization's name: a read by id is one round trip.
   */
  private async currentChecked(type: string, id: string): Promise<CheckedRow | undefined> {
    return (await run<CheckedRow>(this.tx, this.checkedRowSql(type, id)))[0];
  }

  /**
   * `visible` is the privacy verdict alone, deleted or not: a read answers 410 for a deleted row before it looks, and
   * the earlier versions of a deleted resource stay readable (vread) to whoever could read them before.
   */
  private checkedRowSql(type: string, id: string, extra: Sql = sql``): Sql {
    const pp = this.perPerson;
    if (!pp) {
      return sql`select ${ROW_COLUMNS}, r.deleted, ${this.filter('r')} as visible, ${this.deliveryColumns(raw('r'))}${extra}
          from resources r where r.resource_type = ${type} and r.id = ${id}`;
    }
    // The standing with the row's person looked up once, for the verdict and for the outgoing check alike.
    return sql`select ${ROW_COLUMNS}, r.deleted, ${pp.condition('r', 'f')} as visible,
          ${pp.carried('f')}, ${this.orgNameColumn(raw('r'))}${extra}
          from resources r left join lateral (select ${pp.columns(sql`r.person_id`)}) f on true
          where r.resource_type = ${type} and r.id = ${id}`;
  }

  /**
   * What the outgoing check needs about a row, as columns of the statement that reads it: the caller's standing with
   * the row's person and the name of the organization that sent it. Saves a round trip per read and per search.
   */
  private deliveryColumns(a: Sql): Sql {
    return sql`${standingColumns(sql`${a}.person_id`, this.ctx, this.settings)}, ${this.orgNameColumn(a)}`;
  }

  private orgNameColumn(a: Sql): Sql {
    return sql`(select o.content->>'name' from resources o where o.resource_type = 'Organization' and o.id = ${a}.source_org) as org_name`;
  }

  /** One known resource: filtered in SQL, re-checked in code; a refusal says what is missing. */
  private deliverOne(row: CheckedRow, content: Resource, action: AuditAction): Resource {
    const out = row.visible ? this.deliverRows([{ ...row, content }], action) : [];
    if (out.length === 1) return out[0];
    throw this.denial(row.person_id ? factsFromColumns(row.person_id, row) : undefined);
  }

  /** `deliver` for rows that brought their facts with them (`deliveryColumns`). */
  private deliverRows(rows: DeliveryRow[], action: AuditAction, opts: DeliverOptions = {}): Resource[] {
    const facts = new Map<string, PersonFacts>();
    for (const row of rows) {
      if (row.person_id) facts.set(row.person_id, factsFromColumns(row.person_id, row));
    }
    return this.deliverWith(rows, facts, orgNamesOf(rows), action, opts);
  }

  /**
   * A search in this transaction. `as`: the audit action when the matches are released for something other than a
   * search (a notification), and whether rows the caller may only see as demographics are withheld instead.
   */
  async searchType(type: string, query: Array<[string, string]>, strict: boolean, as: { action: AuditAction; wholeOnly?: boolean } = { action: 'search' }): Promise<SearchResult> {
    authorizeRead(this.ctx, type, 's');
    const engine = this.requireSearch();
    const { request, warnings } = engine.parse(type, query, strict, this.protectedHashes);
    if (request.summary === 'count') {
      this.note(as.action, [], [], { query: queryText(type, query) });
      return { request, matches: [], included: [], total: request.total === 'none' ? undefined : await this.countAll(engine, request), warnings };
    }
    const rows = await run<DeliveryRow & { total_matches?: number }>(this.tx, this.pageSql(engine, request));
    const total = await this.pageTotal(engine, request, rows);
    const includeSql = request.hasIncludes ? engine.includes(request, rows, (alias) => sql`(${this.filter(alias)}${this.scopedTypes(raw(alias))})`) : undefined;
    const includeRows = includeSql ? await run<IncludeRow>(this.tx, includeSql) : [];
    const matches = this.deliverRows(rows, as.action, { query: queryText(type, query), wholeOnly: as.wholeOnly });
    // An include that found nothing released nothing: no second audit event (a search is then one event, one statement).
    const included = includeRows.length ? await this.deliver(includeRows, as.action, { query: queryText(type, query) + ' (_include)', wholeOnly: as.wholeOnly }) : [];
    return { request, matches, included, includesBeyondDepth: includeRows.some((r) => r.beyond_depth), total, warnings };
  }

  /**
   * Search criteria of `type` (each a search's parameters, parsed strictly: an unknown parameter is a 400) as one
   * condition on alias `r` that any of them meets; rows reached through chains and `_has` pass `filter`.
   */
  criteria(type: string, queries: Array<Array<[string, string]>>, filter: (alias: string) => Sql): Sql {
    authorizeRead(this.ctx, type, 's');
    const engine = this.requireSearch();
    const each = queries.map((query) => engine.criteria(engine.parse(type, query, true, this.protectedHashes).request, filter));
    return sql`(${join(each, ' or ')})`;
  }

  /** Rows of the given keys with the columns the outgoing check needs, already filtered by the privacy SQL. */
  async rowsFor(keys: Array<{ resource_type: string; id: string }>, opts: { deleted?: boolean } = {}): Promise<ResultRow[]> {
    if (keys.length === 0) return [];
    return run<ResultRow>(
      this.tx,
      sql`select ${ROW_COLUMNS} from resources r
          where (r.resource_type, r.id) in (select * from unnest(${keys.map((k) => k.resource_type)}::text[], ${keys.map((k) => k.id)}::text[]))
          and ${opts.deleted ? sql`` : sql`r.deleted = false and `}${this.filter('r')}`,
    );
  }

  /** All current resources of a person (the longitudinal record), privacy-filtered, paged; clinical access checked first. */
  async personRecord(personId: string, opts: { since?: string; types?: string[]; count: number; offset: number }): Promise<{ resources: Resource[]; total: number }> {
    const facts = await this.assertClinicalAccess(personId);
    authorizeRead(this.ctx, 'Patient');
    // Every row is the person's: with the filter split per person, the rows are filtered against the standing just
    // looked up, as constants (per row, the filter's subqueries took 0.35 µs of each of 10,000 rows).
    const condition = this.perPerson && facts ? this.perPerson.known('r', knownStanding(facts)) : this.filter('r');
    const where = sql`where r.person_id = ${personId} and r.deleted = false and ${condition}${this.scopedTypes(raw('r'))}
      ${opts.since ? sql`and r.last_updated >= ${opts.since}` : sql``}
      ${opts.types?.length ? sql`and r.resource_type = any(${opts.types}::text[])` : sql``}`;
    const order = sql`order by case r.resource_type when 'Patient' then 0 else 1 end, r.resource_type, r.id`;
    // The page is chosen from keys with the total beside it, then only its rows' content and senders' names are read:
    // one statement where a page, a count and a look-up of names were three.
    const rows = await run<ResultRow & { org_name: string | null; total: number }>(this.tx, sql`select ${ROW_COLUMNS}, ${this.orgNameColumn(raw('r'))}, k.total
      from (select r.resource_type, r.id, count(*) over ()::int as total from resources r ${where} ${order} limit ${opts.count} offset ${opts.offset}) k
      join resources r on r.resource_type = k.resource_type and r.id = k.id ${order}`);
    const total = rows.length ? rows[0].total : opts.offset === 0 ? 0 : (await run<{ total: number }>(this.tx, sql`select count(*)::int as total from resources r ${where}`))[0].total;
    const known = facts ? new Map([[personId, facts]]) : await loadPersonFacts(this.tx, this.ctx, rows.length ? [personId] : [], this.settings);
    return { resources: this.deliverWith(rows, known, orgNamesOf(rows), 'everything'), total };
  }

  async history(q: { type?: string; id?: string; since?: string; count: number; offset: number }): Promise<{ entries: StoredRow[]; total: number }> {
    authorizeRead(this.ctx, q.type ?? '*');
    const { rows, total } = await readHistory(this.tx, q, sql`(${this.filter('r')}${this.scopedTypes(raw('r'))})`);
    // A deleted resource's versions stay in its history: its current row is the deletion, which keeps person and labels.
    const metas = await this.rowsFor(unique(rows.map((r) => `${r.resource_type}/${r.id}`)).map(splitKey), { deleted: true });
    const byKey = new Map(metas.map((m) => [`${m.resource_type}/${m.id}`, m]));
    const out: StoredRow[] = [];
    for (const row of rows) {
      const meta = byKey.get(`${row.resource_type}/${row.id}`);
      if (!meta) continue;
      // Checked again in code on the labels the SQL filter used (`readHistory`).
      const [content] = row.deleted ? [row.content] : await this.deliver([{ ...meta, security: versionLabels(meta, row), content: row.content }], 'history');
      out.push({ ...row, content });
    }
    return { entries: out, total };
  }

  /**
   * The current row for a write (locked), after checking the caller may write it (skipped for `derived` writes).
   * Not privacy-filtered: writes are authorized instead.
   */
  async currentForWrite(type: string, id: string, derived = false): Promise<StoredRow & { source_org: string | null } | undefined> {
    const key = { resourceType: type, id };
    const rows = derived ? await readCurrentForUpdate(this.tx, [key]) : [...(await this.currentForWriteMany([key])).values()];
    return rows[0];
  }

  async write(input: WriteInput): Promise<Resource> {
    return (await this.writeMany([input]))[0];
  }

  /** Writes many resources with one set-based statement per table (see `write-batch.ts`); keys must be distinct. */
  async writeMany(inputs: WriteInput[]): Promise<Resource[]> {
    if (inputs.length === 0) return [];
    return writeBatch({ tx: this.tx, ctx: this.ctx, now: this.settings.now, protector: this.protector, engine: this.requireSearch(), note: (a, p, r) => this.note(a, p, r) }, inputs);
  }

  /**
   * Several plain searches in one statement (a bundle's conditional creates and updates); see `search-batch.ts`.
   * `ownRecords`: a submitting system's searches match only its own records and the shared directory (`ownRecordsFilter`).
   */
  async searchMany(queries: Array<{ type: string; query: Array<[string, string]> }>, opts: { ownRecords?: boolean } = {}): Promise<Resource[][]> {
    const filter = (opts.ownRecords && ownRecordsFilter(this.ctx)) || this.filter;
    return searchBatch({ tx: this.tx, ctx: this.ctx, filter, protectedHashes: this.protectedHashes, deliver: (rows, action, opts) => this.deliver(rows, action, opts) }, this.requireSearch(), queries);
  }

  /** Stored security labels of each referenced resource (`Type/id`), for label propagation on batched writes. */
  async labelsByReference(references: string[]): Promise<Map<string, string[]>> {
    return labelsByReference(this.tx, references);
  }

  /**
   * Adds the sensitivity labels a write derived to stored resources (a Binary named by a labelled document), in place
   * and in this transaction. Not audited as a write: no content changes, only the protection the HIE derives.
   */
  async addStoredLabels(additions: ReadonlyMap<string, readonly string[]>): Promise<void> {
    await addLabelsInPlace(this.tx, additions, this.fhirBase);
  }

  /** `currentForWrite` for many resources in one statement, keyed `Type/id`; absent keys do not exist yet. */
  async currentForWriteMany(keys: Array<{ resourceType: string; id: string }>): Promise<Map<string, StoredRow & { source_org: string | null }>> {
    return currentRowsForWrite(this, keys);
  }

  async remove(type: string, id: string): Promise<void> {
    const current = (await currentRowsForWrite(this, [{ resourceType: type, id }], 'd')).get(`${type}/${id}`);
    if (!current || current.deleted) return;
    const lastUpdated = this.settings.now.toISOString();
    const content = { ...current.content, meta: { ...current.content.meta, versionId: String(current.version_id + 1), lastUpdated } } as Resource;
    // The deletion keeps the deleted version's labels, so every path that reads it filters it as it filtered the resource.
    const security = (content.meta?.security ?? []).flatMap((c) => (c.system === V3_ACT_CODE && c.code ? [c.code] : []));
    await writeVersion(this.tx, {
      resourceType: type, id, versionId: current.version_id + 1, lastUpdated, deleted: true,
      personId: current.person_id ?? undefined, sourceOrg: current.source_org ?? undefined, security, content,
    });
    await this.requireSearch().deleteIndex(this.tx, [{ resourceType: type, id }]);
    this.note('delete', current.person_id ? [current.person_id] : [], [`${type}/${id}`]);
  }

  /** For clinical reads of a whole person: clinicians need a relationship; patients only their own person. */
  async assertClinicalAccess(personId: string): Promise<PersonFacts | undefined> {
    if (this.ctx.internal) return undefined;
    const facts = (await loadPersonFacts(this.tx, this.ctx, [personId], this.settings)).get(personId);
    const role = this.ctx.role;
    if ((role === 'clinician' || role === 'clinical-staff') && (!facts || facts.relationship === 'none')) throw this.denial(facts);
    if (role === 'patient' && this.ctx.personId !== personId) throw forbidden('Patients may only see their own record.');
    if (role === 'admin' || role === 'registrar' || role === 'privacy-officer') throw forbidden(`The ${role} role may not read clinical data.`);
    return facts;
  }

  /** The source Patient of the first referenced resource that has one (owner of a Provenance or Binary). */
  async compartmentOf(references: string[]): Promise<string | undefined> {
    for (const ref of references) {
      const m = /^([A-Z][A-Za-z]+)\/([^/]+)$/.exec(ref);
      if (!m) continue;
      if (m[1] === 'Patient') return m[2];
      const rows = await run<{ patient_id: string | null }>(this.tx, sql`select patient_id from resources where resource_type = ${m[1]} and id = ${m[2]}`);
      if (rows[0]?.patient_id) return rows[0].patient_id;
    }
    return undefined;
  }

  /** Re-checks and redacts each outgoing row, records the audit entry, returns what may leave. */
  /** `known`: the facts of every person among the rows, when this scope has just looked them up. */
  async deliver(rows: ResultRow[], action: AuditAction, opts: DeliverOptions = {}, known?: Map<string, PersonFacts>): Promise<Resource[]> {
    const persons = known ? [] : unique(rows.map((r) => r.person_id).filter((p): p is string => !!p));
    const orgIds = unique(rows.filter((r) => r.person_id && r.source_org && r.resource_type !== 'Person').map((r) => r.source_org!));
    const { facts, orgNames } = await loadDeliveryFacts(this.tx, this.ctx, persons, orgIds, this.settings);
    return this.deliverWith(rows, known ?? facts, orgNames, action, opts);
  }

  private deliverWith(rows: ResultRow[], facts: Map<string, PersonFacts>, orgNames: Map<string, string>, action: AuditAction, opts: DeliverOptions = {}): Resource[] {
    const persons = unique(rows.map((r) => r.person_id).filter((p): p is string => !!p));
    const out: Resource[] = [];
    for (const row of rows) {
      // The outgoing check also holds every path to the token's scopes: a type it may not read never leaves.
      if (this.readable && !this.readable.includes(row.resource_type)) continue;
      const outgoing: OutgoingRow = { resourceType: row.resource_type, personId: row.person_id, sourceOrg: row.source_org, security: row.security ?? [] };
      const verdict = verdictFor(this.ctx, outgoing, row.person_id ? facts.get(row.person_id) : undefined);
      if (verdict === 'deny' || (verdict === 'demographics' && opts.wholeOnly)) continue;
      const content = withSourceOrganization(withPersonLink(row), row, orgNames);
      out.push(verdict === 'demographics' ? demographicsOnly(content) : content);
    }
    const relationship = summarize(facts);
    // Everything seen while break-the-glass is active is emergency access (purpose ETREAT), for review and the patient's report.
    const ctx = relationship === 'break-glass' ? { ...this.ctx, purposeOfUse: 'ETREAT' as const } : this.ctx;
    this.note(action, persons, out.map((r) => `${r.resourceType}/${r.id}`), { query: opts.query, relationship, ctx });
    return out;
  }

  /** The refusal of a resource; only a missing care relationship is named (a withheld sensitive resource must not be explained as something else). */
  private denial(facts: PersonFacts | undefined): FhirError {
    const unrelated = !facts || facts.relationship === 'none';
    const err = forbidden(this.denialMessage(unrelated));
    if (unrelated && this.clinicalReader()) {
      err.outcome.issue![0].details = { coding: [{ system: 'https://katahdin.org/fhir/CodeSystem/access', code: 'no-care-relationship' }] };
    }
    return err;
  }

  private denialMessage(unrelated: boolean): string {
    if (!this.clinicalReader()) return `The ${this.ctx.role} role may not see this resource.`;
    return unrelated
      ? 'No care relationship with this patient: your organization has no recent encounter or referral, and you have not attested to a treatment relationship.'
      : 'You are not permitted to see this resource.';
  }

  private clinicalReader(): boolean {
    return this.ctx.role === 'clinician' || this.ctx.role === 'clinical-staff' || hasQueryRole(this.ctx);
  }

  private requireSearch(): SearchEngine {
    if (!this.search) throw new Error('search engine not configured');
    return this.search;
  }
}

export const SOURCE_ORGANIZATION_EXTENSION = 'https://katahdin.org/fhir/StructureDefinition/source-organization';

/** Each item of the longitudinal record names the organization that sent it (the viewer shows it beside the date). */
function withSourceOrganization(resource: Resource, row: ResultRow, names: Map<string, string>): Resource {
  // Binary and Bundle are not DomainResources: they cannot carry extensions.
  if (!row.person_id || !row.source_org || ['Person', 'Binary', 'Bundle'].includes(row.resource_type)) return resource;
  const r = resource as Resource & { extension?: Array<{ url: string }> };
  const extension = [
    ...(r.extension ?? []).filter((e) => e.url !== SOURCE_ORGANIZATION_EXTENSION),
    { url: SOURCE_ORGANIZATION_EXTENSION, valueReference: { reference: `Organization/${row.source_org}`, display: names.get(row.source_org) ?? row.source_org } },
  ];
  return { ...r, extension } as Resource;
}

export const PERSON_EXTENSION = 'https://katahdin.org/fhir/StructureDefinition/person';

/** Source Patients name their enterprise person, so clients can group records of one person. */
function withPersonLink(row: ResultRow): Resource {
  if (row.resource_type !== 'Patient' || !row.person_id) return row.content;
  const p = row.content as Resource & { extension?: Array<{ url: string }> };
  const extension = [...(p.extension ?? []).filter((e) => e.url !== PERSON_EXTENSION), { url: PERSON_EXTENSION, valueReference: { reference: `Person/${row.person_id}` } }];
  return { ...p, extension } as Resource;
}

function summarize(facts: Map<string, PersonFacts>): AuditRecord['relationship'] {
  if ([...facts.values()].some((f) => f.breakGlass)) return 'break-glass';
  const kinds = [...facts.values()].map((f) => f.relationship);
  if (kinds.includes('none')) return 'none';
  return kinds[0];
}

function queryText(type: string, query: Array<[string, string]>): string {
  return `${type}?${new URLSearchParams(query).toString()}`.slice(0, 2000);
}

const unique = <T,>(xs: T[]): T[] => [...new Set(xs)];

/** The senders' names that rows read with `orgNameColumn` brought with them. */
function orgNamesOf(rows: Array<{ source_org: string | null; org_name: string | null }>): Map<string, string> {
  return new Map(rows.flatMap((r) => (r.source_org && r.org_name ? [[r.source_org, r.org_name] as const] : [])));
}
const splitKey = (k: string) => {
  const i = k.indexOf('/');
  return { resource_type: k.slice(0, i), id: k.slice(i + 1) };
};
