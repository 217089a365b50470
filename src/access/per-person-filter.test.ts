import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migratedPglite } from '../audit/test-support.ts';
import type { Database } from '../store/database.ts';
import { compileSearch } from '../store/search/compile.ts';
import { parseSearch } from '../store/search/parse.ts';
import { sql, toQuery, type Sql } from '../store/sql.ts';
import type { AccessContext } from './context.ts';
import { verdictFor } from './outgoing.ts';
import { knownStanding, loadPersonFacts } from './person-facts.ts';
import { perPersonFilter, privacyFilter, type FilterSettings } from './privacy-filter.ts';
import { QUERY_ROLE_SCOPE } from './scopes.ts';

const NOW = new Date('2026-06-01T00:00:00Z');
const settings: FilterSettings = { now: NOW, careRelationshipMonths: 18 };
const ORG = 'org-a';
const USER = 'user-a';
const PERSONS = ['p1', 'p2', 'p3', 'p4'];
const LABELS = ['PSY', 'HIV', 'ETH'];

const contexts: AccessContext[] = [
  { userId: USER, displayName: 'Clinician', role: 'clinician', organizationId: ORG, scopes: ['user/*.rs'], purposeOfUse: 'TREAT' },
  { userId: USER, displayName: 'Staff', role: 'clinical-staff', organizationId: ORG, scopes: ['user/*.rs'], purposeOfUse: 'TREAT' },
  { clientId: 'c', displayName: 'Query role', role: 'system', organizationId: ORG, scopes: ['system/*.rs', QUERY_ROLE_SCOPE], purposeOfUse: 'TREAT' },
];

/** Everything the filter reads about a person, as the property generates it. */
const personFacts = fc.record({
  care: fc.constantFrom('none', 'active', 'recent', 'old'),
  attested: fc.constantFrom('none', 'valid', 'expired'),
  breakGlass: fc.constantFrom('none', 'valid', 'expired', 'other-user'),
  shared: fc.subarray(LABELS),
  privacyRow: fc.boolean(),
  optedOut: fc.boolean(),
});
// Person-less rows of every kind: directory and knowledge entries (shared) and clinical data of no known person.
const TYPES = ['Observation', 'Observation', 'Observation', 'Patient', 'Consent', 'Binary', 'Organization', 'Questionnaire'];
const row = fc.record({
  type: fc.constantFrom(...TYPES),
  person: fc.constantFrom(...PERSONS, null),
  security: fc.subarray(LABELS, { maxLength: 2 }),
  org: fc.constantFrom(ORG, 'org-b', null),
});
const world = fc.record({ facts: fc.tuple(personFacts, personFacts, personFacts, personFacts), rows: fc.array(row, { minLength: 1, maxLength: 25 }) });
type World = typeof world extends fc.Arbitrary<infer T> ? T : never;

const days = (n: number) => new Date(NOW.getTime() + n * 86_400_000).toISOString();

async function load(db: Database, w: World): Promise<void> {
  // The links never change between runs (src-pN is pN), so they are written once and kept.
  for (const t of ['resources', 'care_relationships', 'attestations', 'break_glass', 'person_privacy']) await db.query(`delete from ${t}`);
  for (const [i, f] of w.facts.entries()) {
    const person = PERSONS[i];
    await db.query('insert into mpi_links (patient_id, person_id, assurance) values ($1, $2, $3) on conflict do nothing', [`src-${person}`, person, 'level3']);
    if (f.care !== 'none') {
      const last = f.care === 'old' ? days(-800) : days(-30);
      await db.query('insert into care_relationships (patient_id, organization_id, last_date, active) values ($1, $2, $3, $4)', [`src-${person}`, ORG, last, f.care === 'active']);
    }
    if (f.attested !== 'none') {
      await db.query('insert into attestations (id, user_id, person_id, reason, created_at, expires_at) values ($1, $2, $3, $4, $5, $6)',
        [`a-${person}`, USER, person, 'r', days(-2), days(f.attested === 'valid' ? 1 : -1)]);
    }
    if (f.breakGlass !== 'none') {
      await db.query('insert into break_glass (id, user_id, organization_id, person_id, reason, created_at, expires_at) values ($1, $2, $3, $4, $5, $6, $7)',
        [`b-${person}`, f.breakGlass === 'other-user' ? 'someone-else' : USER, ORG, person, 'r', days(-1), days(f.breakGlass === 'expired' ? -0.5 : 0.5)]);
    }
    if (f.privacyRow || f.optedOut) {
      await db.query('insert into person_privacy (person_id, shared_labels, opted_out) values ($1, $2, $3)', [person, f.shared, f.optedOut]);
    }
  }
  for (const [i, r] of w.rows.entries()) {
    await db.query(`insert into resources (resource_type, id, version_id, last_updated, person_id, source_org, security, content)
      values ($1, $2, 1, $3, $4, $5, $6, $7)`, [r.type, `r${i}`, days(-i), r.person, r.org, r.security, { resourceType: r.type, id: `r${i}` }]);
  }
}

async function ids(db: Database, q: Sql): Promise<string[]> {
  const { text, values } = toQuery(q);
  return (await db.query<{ id: string }>(text, values)).rows.map((r) => r.id);
}

describe('the privacy filter split per person decides every row as the per-row filter does', () => {
  let db: Database;
  beforeAll(async () => {
    db = await migratedPglite();
  });
  afterAll(() => db?.close());

  it('for random facts, labels and rows, in searches, counts and a person\'s whole record', async () => {
    await fc.assert(
      fc.asyncProperty(world, async (w) => {
        await load(db, w);
        for (const ctx of contexts) {
          const filter = privacyFilter(ctx, settings);
          const perPerson = perPersonFilter(ctx, settings)!;
          for (const type of new Set(TYPES)) {
            const { request } = parseSearch(type, [['_count', '100']], { strict: true });
            const rowWise = compileSearch(request, { filter });
            const split = compileSearch(request, { filter, perPerson });
            expect(await ids(db, split.page)).toEqual(await ids(db, rowWise.page));
            const count = async (q: Sql) => (await db.query<{ total: number }>(toQuery(q).text, toQuery(q).values)).rows[0].total;
            expect(await count(split.count)).toBe(await count(rowWise.count));
          }
          for (const person of PERSONS) {
            const whole = await ids(db, sql`select r.id from resources r where r.person_id = ${person} and ${filter('r')} order by r.id`);
            const facts = (await loadPersonFacts(db, ctx, [person], settings)).get(person)!;
            expect(await ids(db, sql`select r.id from resources r where r.person_id = ${person} and ${perPerson.known('r', knownStanding(facts))} order by r.id`)).toEqual(whole);
          }
        }
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  /** Every role, including those decided by the row alone. */
  const everyone: AccessContext[] = [
    ...contexts,
    { clientId: 'c', displayName: 'Feed', role: 'system', organizationId: ORG, scopes: ['system/*.cruds'], purposeOfUse: 'TREAT' },
    { userId: 'pat', displayName: 'Patient', role: 'patient', personId: 'p1', scopes: ['patient/*.rs'], purposeOfUse: 'PATRQT' },
    { userId: 'reg', displayName: 'Registrar', role: 'registrar', scopes: ['user/*.rs'], purposeOfUse: 'HOPERAT' },
    { userId: 'adm', displayName: 'Admin', role: 'admin', scopes: ['user/*.rs'], purposeOfUse: 'HOPERAT' },
  ];

  async function decisions(w: World, ctx: AccessContext): Promise<{ sql: string[]; code: string[] }> {
    const facts = await loadPersonFacts(db, ctx, PERSONS, settings);
    const sqlIds = await ids(db, sql`select r.id from resources r where ${privacyFilter(ctx, settings)('r')} order by r.id`);
    const code = w.rows.flatMap((r, i) => {
      const verdict = verdictFor(ctx, { resourceType: r.type, personId: r.person, sourceOrg: r.org, security: r.security }, r.person ? facts.get(r.person) : undefined);
      return verdict === 'deny' ? [] : [`r${i}`];
    });
    return { sql: sqlIds, code: code.sort() };
  }

  it('and the outgoing check in code lets through exactly the rows the SQL condition returns, for every role', async () => {
    await fc.assert(
      fc.asyncProperty(world, async (w) => {
        await load(db, w);
        for (const ctx of everyone) {
          const { sql: fromSql, code } = await decisions(w, ctx);
          expect(code, ctx.displayName).toEqual(fromSql);
        }
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  it('serves clinical data of no known person only to its sender, and nothing clinical of an opted-out person', async () => {
    const inCare = { care: 'active', attested: 'none', breakGlass: 'valid', shared: LABELS, privacyRow: true, optedOut: false } as const;
    const w: World = {
      facts: [{ ...inCare, shared: [...LABELS] }, { ...inCare, shared: [...LABELS], optedOut: true }, { ...inCare, shared: [] }, { ...inCare, shared: [] }],
      rows: [
        { type: 'Binary', person: null, security: [], org: 'org-b' }, // r0: a Binary without a security context
        { type: 'Observation', person: null, security: ['HIV'], org: 'org-b' }, // r1: an HIV result of an unknown Patient
        { type: 'Organization', person: null, security: [], org: 'org-b' }, // r2: the directory
        { type: 'Organization', person: null, security: ['PSY'], org: 'org-b' }, // r3: a labelled entry is not shared
        { type: 'Observation', person: 'p2', security: [], org: ORG }, // r4: left behind for an opted-out person
        { type: 'Patient', person: 'p2', security: [], org: ORG }, // r5: their retained demographics
        { type: 'Observation', person: 'p1', security: [], org: ORG }, // r6: an ordinary result
      ],
    };
    await load(db, w);
    const seen = async (ctx: AccessContext) => (await decisions(w, ctx)).sql;
    const [clinician, , queryRole, feedA, patient, registrar, admin] = everyone;
    // The clinician broke the glass for p1 and p2 and p2 shares every label: still nothing clinical of p2, nothing of no one's.
    expect(await seen(clinician)).toEqual(['r2', 'r5', 'r6']);
    expect(await seen(queryRole)).toEqual(['r2', 'r5', 'r6']);
    expect(await seen(feedA)).toEqual(['r2', 'r5', 'r6']);
    const feedB = { ...feedA, organizationId: 'org-b' };
    expect(await seen(feedB)).toEqual(['r0', 'r1', 'r2', 'r3']);
    expect(await seen(patient)).toEqual(['r2', 'r6']);
    expect(await seen({ ...patient, personId: 'p2' })).toEqual(['r2', 'r5']);
    expect(await seen(registrar)).toEqual(['r2', 'r5']);
    expect(await seen(admin)).toEqual(['r2', 'r5']);
    for (const ctx of [...everyone, feedB]) expect((await decisions(w, ctx)).code, ctx.displayName).toEqual(await seen(ctx));
  });

  it('is not offered where the decision does not depend on the person', () => {
    const base = { displayName: 'x', scopes: [], purposeOfUse: 'TREAT' as const };
    expect(perPersonFilter({ ...base, role: 'patient', personId: 'p1' }, settings)).toBeUndefined();
    expect(perPersonFilter({ ...base, role: 'system', scopes: ['system/*.rs'] }, settings)).toBeUndefined();
    expect(perPersonFilter({ ...base, role: 'registrar' }, settings)).toBeUndefined();
    expect(perPersonFilter({ ...base, role: 'clinician', internal: true }, settings)).toBeUndefined();
  });
});
