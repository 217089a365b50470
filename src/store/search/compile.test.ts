import { describe, expect, it } from 'vitest';
import { run } from '../database.ts';
import { migrate } from '../migrate.ts';
import { openPglite } from '../pglite-database.ts';
import { sql, toQuery } from '../sql.ts';
import { compileSearch } from './compile.ts';
import { compileIncludes, MAX_INCLUDE_DEPTH } from './includes.ts';
import { parseSearch } from './parse.ts';
import { writeIndex } from './index-writer.ts';
import { FhirError } from '../../fhir/outcome.ts';

const filter = (alias: string) => sql`${sql([`${alias}.source_org = `] as unknown as TemplateStringsArray, 'org-1')}`;

function compile(type: string, q: string) {
  const { request } = parseSearch(type, [...new URLSearchParams(q)], { strict: false });
  return compileSearch(request, { filter: () => sql`true` });
}

describe('compileSearch SQL text', () => {
  it('pins patient + code + date', () => {
    const q = toQuery(compile('Observation', 'patient=Patient/p1&code=http://loinc.org|8302-2&date=ge2020&_sort=-date').page);
    expect(q.text).toBe(
      'select r.resource_type, r.id, r.content, r.last_updated, r.version_id, r.person_id, r.source_org, r.security, row_number() over (order by (select max(i5.lo) from search_date i5 where i5.resource_type = $1 and i5.id = r.id and i5.param = $2) desc nulls last, r.id asc) as ord from ' +
        '(select r.resource_type, r.id from resources r where r.resource_type = $3 and r.deleted = false and (true) and ' +
        'exists (select 1 from search_reference i1 where i1.resource_type = $4 and i1.id = r.id and i1.param = $5 and (i1.target_id = $6 and i1.target_type = $7)) and ' +
        'exists (select 1 from search_token i2 where i2.resource_type = $8 and i2.id = r.id and i2.param = $9 and (i2.system = $10 and i2.value = $11)) and ' +
        'exists (select 1 from search_date i3 where i3.resource_type = $12 and i3.id = r.id and i3.param = $13 and i3.hi > $14::timestamptz) order by (select max(i4.lo) from search_date i4 where i4.resource_type = $15 and i4.id = r.id and i4.param = $16) desc nulls last, r.id asc limit $17 offset $18)' +
        ' m join resources r on r.resource_type = m.resource_type and r.id = m.id order by ord',
    );
    expect(q.values).toEqual(['Observation', 'date', 'Observation', 'Observation', 'patient', 'p1', 'Patient', 'Observation', 'code', 'http://loinc.org', '8302-2', 'Observation', 'date', '2020-01-01T00:00:00.000Z', 'Observation', 'date', 20, 0]);
  });

  it('plans searches for their values: never from a prepared generic plan, also inside a larger statement', () => {
    const compiled = compile('Observation', 'code=http://loinc.org|8302-2');
    for (const fragment of [compiled.page, compiled.pageWithTotal, compiled.count]) {
      expect(toQuery(fragment).prepare).toBe(false);
      expect(toQuery(sql`with x as (${fragment}) select * from x`).prepare).toBe(false);
    }
    expect(toQuery(sql`select 1`).prepare).toBe(true);
  });

  it('lets a lookup anchored on an identifier or id be prepared, and nothing that could change its best plan', () => {
    const preparable = (type: string, q: string) => {
      const c = compile(type, q);
      return [c.page, c.pageWithTotal, c.count].map((f) => toQuery(f).prepare);
    };
    expect(preparable('Patient', 'identifier=urn:mrn|123')).toEqual([true, true, true]);
    expect(preparable('Observation', 'identifier=urn:obx|1&subject=Patient/p1&_count=2')).toEqual([true, true, true]);
    expect(preparable('Observation', '_id=a,b')).toEqual([true, true, true]);
    for (const q of ['identifier:not=urn:mrn|123', 'identifier=urn:mrn|123&_sort=-date', 'identifier=urn:obx|1&subject:Patient.name=smith', 'subject=Patient/p1']) {
      expect(preparable('Observation', q), q).toEqual([false, false, false]);
    }
  });

  it('matches an SSN identifier against the protected values\' keyed hashes, OR-ed with the other identifiers, negated by :not', () => {
    const ssn = 'http://hl7.org/fhir/sid/us-ssn';
    const protectedHashes = (system: string, value: string) => (system === ssn && value === '219091234' ? ['h-k2', 'h-k1'] : undefined);
    const where = (q: string) => {
      const { request } = parseSearch('Patient', [...new URLSearchParams(q)], { strict: false, protectedHashes });
      const query = toQuery(compileSearch(request, { filter: () => sql`true` }).count);
      return { text: query.text.slice(query.text.indexOf('(true) and ') + 11), values: query.values.slice(1) };
    };
    const hidden = (n: number) => `exists (select 1 from protected_values pv where pv.kind = 'ssn' and pv.hmac = any($${n}::text[]) and pv.resource_type = $${n + 1} and pv.id = r.id)`;
    expect(where(`identifier=${ssn}|219091234`)).toEqual({ text: hidden(2), values: [['h-k2', 'h-k1'], 'Patient'] });
    expect(where(`identifier=urn:mrn|7,${ssn}|219091234`).text).toBe(
      `(exists (select 1 from search_token i1 where i1.resource_type = $2 and i1.id = r.id and i1.param = $3 and (i1.system = $4 and i1.value = $5)) or ${hidden(6)})`,
    );
    expect(where(`identifier:not=${ssn}|219091234`).text).toBe(`not ${hidden(2)}`);
    // A masked number is no protected value: it is searched in the index, where the mask is.
    expect(where(`identifier=${ssn}|***-**-9091`).text).toContain('search_token');
  });

  it('pins a string search with OR and the count query', () => {
    const q = toQuery(compile('Patient', 'name=Smi,Jó').count);
    expect(q.text).toBe(
      'select count(*)::int as total from resources r where r.resource_type = $1 and r.deleted = false and (true) and ' +
        'exists (select 1 from search_string i1 where i1.resource_type = $2 and i1.id = r.id and i1.param = $3 and (i1.value like $4 or i1.value like $5))',
    );
    expect(q.values.slice(3)).toEqual(['smi%', 'jo%']);
  });

  it(':missing values are OR-ed like any other: true,false asks for every row', () => {
    const where = (type: string, q: string) => toQuery(compile(type, q).count).text.split('(true) and ')[1];
    expect(where('Patient', 'gender:missing=true,false')).toBe('true');
    expect(where('Patient', 'gender:missing=false,true')).toBe('true');
    expect(where('Patient', 'gender:missing=true')).toMatch(/^not exists \(select 1 from search_token/);
    expect(where('Patient', '_lastUpdated:missing=true,false')).toBe('true');
    expect(where('Patient', '_lastUpdated:missing=true')).toBe('false');
  });

  it('applies the row filter inside chains and _has', () => {
    const { request } = parseSearch('Patient', [['_has:Condition:patient:code', 'B20'], ['general-practitioner.name', 'x']], { strict: true });
    const seen: string[] = [];
    const q = toQuery(compileSearch(request, { filter: (a) => (seen.push(a), sql`${sql([`${a}.person_id = `] as unknown as TemplateStringsArray, 'p')}`) }).page);
    expect(seen).toEqual(['r', 'r2', 'r5', 'r7']);
    for (const a of seen) expect(q.text).toContain(`${a}.person_id = $`);
    expect(q.text).toContain('r2.deleted = false');
  });

  it('includes use the filter, dedupe and stop at the limit, level by level', () => {
    const { request } = parseSearch('Observation', [['_include', 'Observation:patient'], ['_revinclude:iterate', 'Provenance:target']], { strict: true });
    const q = toQuery(compileIncludes(request, [{ resourceType: 'Observation', id: 'o1' }], { filter, limit: 50 })!);
    expect(q.text).toContain("'include' as search_mode");
    expect(q.text).toContain('r.source_org = $');
    // Each iterated level leaves out the page and every level before it, so every level holds new resources only;
    // iteration stops at MAX_INCLUDE_DEPTH levels.
    expect(MAX_INCLUDE_DEPTH).toBe(4);
    for (const l of ['lvl2', 'lvl3', 'lvl4']) expect(q.text).toContain(`${l} as (`);
    expect(q.text).not.toContain('lvl5');
    expect(q.text).toMatch(/lvl4 as \(.*not exists \(select 1 from page seen .* not exists \(select 1 from lvl1 seen .* not exists \(select 1 from lvl2 seen .* not exists \(select 1 from lvl3 seen /);
    expect(q.text).toContain('join lvl3 s on');
    // Whether the depth left anything out: one row of the next level, filtered and new like the others, never returned.
    expect(q.text).toMatch(/exists \(select .* join lvl4 s on .* not exists \(select 1 from lvl4 seen .* limit \$\d+\) as beyond_depth/);
    expect(q.text.match(/ limit \$\d+/g)).toHaveLength(6);
    expect(q.values.filter((v) => v === 50)).toHaveLength(5);
    // Without :iterate there is one level, and nothing beyond it to look for.
    const once = toQuery(compileIncludes({ ...request, revinclude: [] }, [{ resourceType: 'Observation', id: 'o1' }], { filter, limit: 50 })!);
    expect(once.text).not.toContain('lvl2');
    expect(once.text).toContain('false as beyond_depth');
    expect(compileIncludes({ ...request, include: [], revinclude: [] }, [{ resourceType: 'Observation', id: 'o1' }], { filter, limit: 50 })).toBeUndefined();
  });
});

describe('injection attempts', () => {
  const attacks: Array<[string, string]> = [
    ['name', "'; drop table resources; --"],
    ['name:exact', "x' or '1'='1"],
    ["name:exact'; drop table resources; --", 'x'],
    ["na'me", 'x'],
    ['_sort', 'name;drop table resources'],
    ['general-practitioner:Practitioner.name', "'); drop table resources; --"],
    ["_has:Condition:patient:code'--", 'x'],
    ['identifier', "a|b'); delete from resources; --"],
    ['_id', "1' or 1=1 --"],
    ['_include', "Patient:organization'; drop table resources; --"],
  ];

  it('rejects or binds every hostile input; the table survives and nothing is inlined', async () => {
    const db = await openPglite();
    await migrate(db);
    const patient = { resourceType: 'Patient' as const, id: 'p1', name: [{ family: 'Smith' }] };
    await run(db, sql`insert into resources (resource_type, id, version_id, last_updated, content) values ('Patient', 'p1', 1, now(), ${patient})`);
    await writeIndex(db, [patient]);
    for (const [key, value] of attacks) {
      let compiled;
      try {
        const { request } = parseSearch('Patient', [[key, value]], { strict: false });
        compiled = compileSearch(request, { filter: () => sql`true` });
      } catch (err) {
        expect(err).toBeInstanceOf(FhirError);
        continue;
      }
      const q = toQuery(compiled.page);
      expect(q.text).not.toMatch(/drop table|delete from|'1'='1|1=1/i);
      await run(db, compiled.page);
      await run(db, compiled.count);
    }
    expect(await run(db, sql`select count(*)::int as n from resources`)).toEqual([{ n: 1 }]);
    await db.close();
  }, 60_000);

  it('strict mode rejects a hostile parameter name with 400 and does not echo it whole', () => {
    const long = `name${"'; drop table resources; --".repeat(20)}`;
    try {
      parseSearch('Patient', [[long, 'x']], { strict: true });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(FhirError);
      expect((err as FhirError).status).toBe(400);
      expect((err as FhirError).message.length).toBeLessThan(120);
    }
  });
});
