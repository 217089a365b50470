import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migratedPglite } from '../audit/test-support.ts';
import type { Database } from '../store/database.ts';
import { compileSearch } from '../store/search/compile.ts';
import { parseSearch } from '../store/search/parse.ts';
import { sql, toQuery, type Sql } from '../store/sql.ts';
import type { AccessContext } from './context.ts';
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
});
const row = fc.record({
  type: fc.constantFrom('Observation', 'Observation', 'Observation', 'Patient', 'Consent'),
  person: fc.constantFrom(...PERSONS, null),
  security: fc.subarray(LABELS, { maxLength: 2 }),
});
const world = fc.record({ facts: fc.tuple(personFacts, personFacts, personFacts, personFacts), rows: fc.array(row, { minLength: 1, maxLength: 25 }) });
type World = typeof world extends fc.Arbitrary<infer T> ? T : never;

const days = (n: number) => new Date(NOW.getTime() + n * 86_400_000).toISOString();

async function load(db: Database, w: World): Promise<void> {
  for (const t of ['resources', 'mpi_links', 'care_relationships', 'attestations', 'break_glass', 'person_privacy']) await db.query(`delete from ${t}`);
  for (const [i, f] of w.facts.entries()) {
    const person = PERSONS[i];
    await db.query('insert into mpi_links (patient_id, person_id, assurance) values ($1, $2, $3)', [`src-${person}`, person, 'level3']);
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
    if (f.privacyRow) await db.query('insert into person_privacy (person_id, shared_labels) values ($1, $2)', [person, f.shared]);
  }
  for (const [i, r] of w.rows.entries()) {
    await db.query(`insert into resources (resource_type, id, version_id, last_updated, person_id, security, content)
      values ($1, $2, 1, $3, $4, $5, $6)`, [r.type, `r${i}`, days(-i), r.person, r.security, { resourceType: r.type, id: `r${i}` }]);
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
          for (const type of ['Observation', 'Patient', 'Consent']) {
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

  it('is not offered where the decision does not depend on the person', () => {
    const base = { displayName: 'x', scopes: [], purposeOfUse: 'TREAT' as const };
    expect(perPersonFilter({ ...base, role: 'patient', personId: 'p1' }, settings)).toBeUndefined();
    expect(perPersonFilter({ ...base, role: 'system', scopes: ['system/*.rs'] }, settings)).toBeUndefined();
    expect(perPersonFilter({ ...base, role: 'registrar' }, settings)).toBeUndefined();
    expect(perPersonFilter({ ...base, role: 'clinician', internal: true }, settings)).toBeUndefined();
  });
});
