// A read by id, and a plain search, is one statement that reads, decides and appends its audit entry
// (`AccessGate.read`, `AccessGate.search`). It must answer and record exactly what the same access inside a gate
// transaction answers and records, for every role, care state, kind of resource and outcome; and the entries it
// writes (hashed by the database) must verify. On PGlite the gate reads in transactions (nothing to fuse in process),
// so there both sides take the same path and the suite checks only that.
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessContext } from '../../src/access/context.ts';
import type { SearchResult } from '../../src/access/gate-scope.ts';
import { verifyChain } from '../../src/audit/chain.ts';
import { AUDIT_COLUMNS, rowFacts, type AuditRow } from '../../src/audit/entry.ts';
import { FhirError } from '../../src/fhir/outcome.ts';
import { attestFor, buildCareFixture, ROLES, STATES, type CareFixture } from '../support/care-fixture.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

const kinds = await databaseKinds();

type Answer = { resource: Resource } | { status: number; message: string; details?: unknown };

describe.each(kinds)('recorded read on %s', (kind) => {
  let server: TestServer;
  let f: CareFixture;
  let deleted: { type: string; id: string };

  beforeAll(async () => {
    server = await startTestServer(kind);
    f = await buildCareFixture(server);
    expect(await attestFor(server, f.tokens.clinician, f.persons.attestation.patients.B!)).toBe(200);
    // Break-the-glass: the clinician for the person organization A saw too long ago and for a person A has a current
    // encounter with too (break-the-glass then takes precedence in the record); clinical staff may not break the glass.
    const breakGlass = (token: string, patientId: string) => fetch(`${server.url}/fhir/Patient/${patientId}/$break-the-glass`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'reason', valueString: 'unconscious in the emergency department' }] }),
    });
    expect((await breakGlass(f.tokens.clinician, f.persons.expired.patients.B!)).status).toBe(200);
    expect((await breakGlass(f.tokens.clinician, f.persons.encounter.patients.B!)).status).toBe(200);
    expect((await breakGlass(f.tokens['clinical-staff'], f.persons.encounter.patients.B!)).status).toBe(403);
    const victim = f.persons.encounter.resources.find((r) => r.org === 'A' && r.type !== 'Patient')!;
    const del = await fetch(`${server.url}/fhir/${victim.type}/${victim.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${f.tokens['system-a']}` } });
    expect(del.status).toBeLessThan(300);
    deleted = victim;
  }, 600_000);
  afterAll(async () => server?.stop());

  async function lastEntry(): Promise<Record<string, unknown>> {
    const row = (await server.services.db.query<AuditRow>(`select ${AUDIT_COLUMNS} from audit_log order by seq desc limit 1`)).rows[0];
    const { recorded: _recorded, ...facts } = rowFacts(row);
    return facts;
  }

  async function answer(read: () => Promise<Resource>): Promise<Answer> {
    try {
      return { resource: await read() };
    } catch (err) {
      if (!(err instanceof FhirError)) throw err;
      return { status: err.status, message: err.message, details: err.outcome.issue?.[0]?.details };
    }
  }

  it('answers and records like a read in a gate transaction, for every role, care state and outcome', async () => {
    const targets = [
      ...STATES.flatMap((s) => f.persons[s].resources.map((r) => ({ type: r.type, id: r.id }))),
      { type: 'Organization', id: f.orgA },
      { type: 'Observation', id: 'no-such-observation' },
      deleted,
    ];
    const outcomes = new Set<string>();
    for (const role of ROLES) {
      const ctx: AccessContext = { ...(await server.services.auth.verify(f.tokens[role])), sourceIp: '127.0.0.1' };
      for (const t of targets) {
        const fused = await answer(() => server.services.gate.read(ctx, t.type, t.id));
        const fusedEntry = await lastEntry();
        const classic = await answer(() => server.services.gate.run(ctx, { action: 'read' }, (scope) => scope.read(t.type, t.id)));
        const classicEntry = await lastEntry();
        const what = `${role} reading ${t.type}/${t.id}`;
        expect(fused, what).toEqual(classic);
        expect(fusedEntry, what).toEqual(classicEntry);
        outcomes.add(`${fusedEntry.outcome}:${fusedEntry.relationship ?? '-'}`);
      }
    }
    // Every kind of entry was exercised: delivered under each relationship, refused, not found / deleted.
    expect([...outcomes].sort()).toEqual(
      ['denied:-', 'error:-', 'success:-', 'success:attestation', 'success:break-glass', 'success:encounter', 'success:none'].sort(),
    );
    const verified = await verifyChain(server.services.db);
    expect(verified.ok, JSON.stringify(verified)).toBe(true);
  }, 300_000);

  it('searches: answers and records like a search in a gate transaction, for every role', async () => {
    const p = (state: (typeof STATES)[number]) => f.persons[state].patients.B!;
    const queries: Array<[string, string]> = [
      ['Patient', ''], ['Observation', '_count=50'], ['Condition', ''], ['Organization', ''],
      ['Observation', `patient=Patient/${p('encounter')}`], ['Observation', `patient=Patient/${p('attestation')}&_sort=-date`],
      ['Patient', `_id=${p('expired')},${p('none')}`], ['Observation', 'code=http://example.org/none|none'],
      ['Patient', '_total=none&_count=2'], ['Observation', '_count=3&_offset=2'], ['Observation', '_count=5&_offset=100000'],
    ];
    const outcomes = new Set<string>();
    for (const role of ROLES) {
      const ctx: AccessContext = { ...(await server.services.auth.verify(f.tokens[role])), sourceIp: '127.0.0.1' };
      for (const [type, text] of queries) {
        const pairs = [...new URLSearchParams(text)];
        const what = `${role}: ${type}?${text}`;
        const run = async (search: () => Promise<SearchResult>) => {
          try {
            const r = await search();
            return { matches: r.matches, total: r.total, warnings: r.warnings, entry: await lastEntry() };
          } catch (err) {
            if (!(err instanceof FhirError)) throw err;
            return { status: err.status, message: err.message, entry: await lastEntry() };
          }
        };
        const fused = await run(() => server.services.gate.search(ctx, type, pairs, false));
        const classic = await run(() => server.services.gate.run(ctx, { action: 'search' }, (scope) => scope.searchType(type, pairs, false)));
        expect(fused, what).toEqual(classic);
        outcomes.add(`${fused.entry.outcome}:${fused.entry.relationship ?? '-'}`);
      }
    }
    expect([...outcomes].sort()).toEqual(
      ['denied:-', 'success:-', 'success:attestation', 'success:break-glass', 'success:encounter', 'success:none'].sort(),
    );
    const verified = await verifyChain(server.services.db);
    expect(verified.ok, JSON.stringify(verified)).toBe(true);
  }, 300_000);

  it('concurrent reads share transactions (ReadGroups); amid concurrent searches each answers and records what it would alone', async () => {
    const targets = [
      ...STATES.flatMap((s) => f.persons[s].resources.map((r) => ({ type: r.type, id: r.id }))),
      { type: 'Observation', id: 'no-such-observation' },
      deleted,
    ];
    const searches: Array<[string, string]> = [['Observation', '_count=50'], ['Patient', ''], ['Observation', 'code=http://example.org/none|none']];
    type Access = () => Promise<unknown>;
    const accesses: Array<{ grouped: Access; classic: Access }> = [];
    for (const role of ROLES) {
      const ctx: AccessContext = { ...(await server.services.auth.verify(f.tokens[role])), sourceIp: '127.0.0.1' };
      for (const t of targets) {
        accesses.push({
          grouped: () => server.services.gate.read(ctx, t.type, t.id),
          classic: () => server.services.gate.run(ctx, { action: 'read' }, (scope) => scope.read(t.type, t.id)),
        });
      }
      for (const [type, text] of searches) {
        const pairs = [...new URLSearchParams(text)];
        accesses.push({
          grouped: () => server.services.gate.search(ctx, type, pairs, false).then((r) => ({ matches: r.matches, total: r.total })),
          classic: () => server.services.gate.run(ctx, { action: 'search' }, (scope) => scope.searchType(type, pairs, false)).then((r) => ({ matches: r.matches, total: r.total })),
        });
      }
    }
    const settle = async (access: Access) => {
      try {
        return { value: await access() };
      } catch (err) {
        if (!(err instanceof FhirError)) throw err;
        return { status: err.status, message: err.message };
      }
    };
    const entriesAfter = async (seq: number) => {
      const rows = (await server.services.db.query<AuditRow>(`select ${AUDIT_COLUMNS} from audit_log where seq > $1 order by seq`, [seq])).rows;
      return rows.map((row) => {
        const { recorded: _recorded, ...facts } = rowFacts(row);
        return JSON.stringify(facts);
      }).sort();
    };
    const lastSeq = async () => Number((await server.services.db.query<{ n: string }>('select coalesce(max(seq), 0) as n from audit_log')).rows[0].n);

    const classicFrom = await lastSeq();
    const expected = [];
    for (const a of accesses) expected.push(await settle(a.classic));
    const classicEntries = await entriesAfter(classicFrom);

    const groupedFrom = await lastSeq();
    const answers = await Promise.all(accesses.map((a) => settle(a.grouped)));
    expect(answers).toEqual(expected);
    expect(await entriesAfter(groupedFrom)).toEqual(classicEntries);
    // Entries that one transaction inserted share its xmin: the accesses were grouped, not each committed alone.
    const { rows } = await server.services.db.query<{ entries: number; transactions: number }>(
      'select count(*)::int as entries, count(distinct xmin::text)::int as transactions from audit_log where seq > $1', [groupedFrom]);
    expect(rows[0].entries).toBe(accesses.length);
    expect(rows[0].transactions).toBeLessThan(accesses.length / 2);
    const verified = await verifyChain(server.services.db);
    expect(verified.ok, JSON.stringify(verified)).toBe(true);
  }, 300_000);
});
