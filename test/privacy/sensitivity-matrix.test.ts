/**
 * The leak suite's sensitivity dimension (privacy-rules §4, §5): labelled / unlabelled × consent to share ×
 * break-the-glass, across read, vread, search (+ _include / _revinclude), history and $everything. A labelled resource
 * is visible exactly when the person shares its category or the clinician has broken the glass; counts agree. A
 * version is decided on its own labels and the current row's: a correction that drops a label does not release the
 * labelled version, and an unlabelled version of a resource labelled since is withheld with it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';
import { asBundle, consent, facilityOrganization, fhir } from './support.ts';

const kinds = await databaseKinds();

/** One person's fixture: two visits (one for depression) and two diagnoses (one depression). */
interface Fixture {
  patient: string;
  /** Unlabelled encounter; the depression Condition points at it. */
  visit: string;
  /** Encounter labelled PSY by its reason; the hypertension Condition points at it. */
  psychVisit: string;
  depression: string;
  hypertension: string;
  /** Condition written as depression (PSY), then corrected to hypertension: v1 labelled, v2 not. */
  corrected: string;
  /** Condition written as hypertension, then changed to depression: v1 unlabelled, v2 labelled PSY. */
  escalated: string;
}

type Path = 'read' | 'vread' | 'search' | 'include' | 'revinclude' | 'history' | 'type-history' | 'everything';
const PATHS: Path[] = ['read', 'vread', 'search', 'include', 'revinclude', 'history', 'type-history', 'everything'];
/** Persons: one shares only HIV (so PSY stays withheld), one shares PSY. */
const PERSONS = [{ key: 'shares-HIV-only', shares: 'HIV', psyShared: false }, { key: 'shares-PSY', shares: 'PSY', psyShared: true }] as const;
const CLINICIANS = [{ key: 'no-btg', btg: false }, { key: 'break-the-glass', btg: true }] as const;

const icd = (code: string) => ({ coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code }] });
const ids = (b: Bundle, mode?: 'match' | 'include') =>
  (b.entry ?? []).filter((e) => !mode || e.search?.mode === mode).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);

describe.each(kinds)('sensitivity matrix on %s', (kind) => {
  let server: TestServer;
  let feed = '';
  const fixtures: Record<string, Fixture> = {};
  const tokens: Record<string, string> = {};

  async function create(body: Resource): Promise<string> {
    const res = await fhir(server, feed, 'POST', `/fhir/${body.resourceType}`, body);
    if (res.status !== 201) throw new Error(`create ${body.resourceType}: ${res.status}`);
    return (res.body as Resource).id!;
  }

  async function update(body: Resource): Promise<void> {
    const res = await fhir(server, feed, 'PUT', `/fhir/${body.resourceType}/${body.id}`, body);
    if (res.status !== 200) throw new Error(`update ${body.resourceType}: ${res.status}`);
  }

  async function person(family: string): Promise<Fixture> {
    const patient = await create({ resourceType: 'Patient', identifier: [{ system: 'urn:katahdin:id:MATRIX', value: family }], name: [{ family, given: ['Pat'] }], gender: 'female', birthDate: '1980-04-04' });
    const subject = { reference: `Patient/${patient}` };
    const when = new Date(Date.now() - 86_400_000).toISOString();
    const visit = await create({ resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject, period: { start: when } });
    const psychVisit = await create({ resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject, period: { start: when }, reasonCode: [icd('F32.9')] });
    const depression = await create({ resourceType: 'Condition', subject, code: icd('F32.9'), encounter: { reference: `Encounter/${visit}` }, recordedDate: when });
    const hypertension = await create({ resourceType: 'Condition', subject, code: icd('I10'), encounter: { reference: `Encounter/${psychVisit}` }, recordedDate: when });
    const corrected = await create({ resourceType: 'Condition', subject, code: icd('F32.9'), recordedDate: when });
    await update({ resourceType: 'Condition', id: corrected, subject, code: icd('I10'), recordedDate: when });
    const escalated = await create({ resourceType: 'Condition', subject, code: icd('I10'), recordedDate: when });
    await update({ resourceType: 'Condition', id: escalated, subject, code: icd('F32.9'), recordedDate: when });
    return { patient, visit, psychVisit, depression, hypertension, corrected, escalated };
  }

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = await facilityOrganization(server, 'MX');
    feed = await systemClientToken(server, 'matrix-ehr', org);
    const registrar = await userWithToken(server, { username: 'mx-reg', role: 'registrar' });
    for (const p of PERSONS) {
      fixtures[p.key] = await person(p.key === 'shares-PSY' ? 'SHARER' : 'KEEPER');
      expect((await consent(server, registrar, fixtures[p.key].patient, 'share', { category: p.shares })).status).toBe(200);
    }
    for (const c of CLINICIANS) {
      tokens[c.key] = await userWithToken(server, { username: `mx-${c.key}`, role: 'clinician', organizationId: org });
      if (!c.btg) continue;
      for (const f of Object.values(fixtures)) {
        const r = await fhir(server, tokens[c.key], 'POST', `/fhir/Patient/${f.patient}/$break-the-glass`, { resourceType: 'Parameters', parameter: [{ name: 'reason', valueString: 'matrix' }] });
        expect(r.status).toBe(200);
      }
    }
  }, 300_000);
  afterAll(async () => server?.stop());

  it('labels what the value sets say (the matrix depends on it)', async () => {
    const f = fixtures['shares-PSY'];
    const rows = await server.services.db.query<{ id: string; security: string[] }>('select id, security from resources where id = any($1::text[])', [[f.depression, f.psychVisit, f.hypertension, f.visit]]);
    const labels = Object.fromEntries(rows.rows.map((r) => [r.id, r.security.join(',')]));
    expect([labels[f.depression], labels[f.psychVisit], labels[f.hypertension], labels[f.visit]]).toEqual(['PSY', 'PSY', '', '']);
  });

  /** What one path shows a clinician of the labelled and the unlabelled resources under test. */
  async function seen(token: string, f: Fixture, path: Path): Promise<{ labelled: string[]; unlabelled: string[]; total?: number; entries?: number }> {
    const get = async (url: string) => fhir(server, token, 'GET', url);
    const labelledKeys = [`Condition/${f.depression}`, `Encounter/${f.psychVisit}`];
    const unlabelledKeys = [`Condition/${f.hypertension}`, `Encounter/${f.visit}`];
    let shown: string[] = [];
    let total: number | undefined;
    let entries: number | undefined;
    switch (path) {
      case 'read':
        for (const key of [...labelledKeys, ...unlabelledKeys]) if ((await get(`/fhir/${key}`)).status === 200) shown.push(key);
        break;
      case 'vread':
        for (const key of [...labelledKeys, ...unlabelledKeys]) if ((await get(`/fhir/${key}/_history/1`)).status === 200) shown.push(key);
        break;
      case 'search': {
        const b = asBundle(await get(`/fhir/Condition?patient=Patient/${f.patient}`));
        shown = ids(b, 'match');
        [total, entries] = [b.total, shown.length];
        const e = asBundle(await get(`/fhir/Encounter?patient=Patient/${f.patient}`));
        shown.push(...ids(e, 'match'));
        expect(e.total).toBe(ids(e, 'match').length);
        break;
      }
      case 'include': {
        const b = asBundle(await get(`/fhir/Condition?patient=Patient/${f.patient}&_include=Condition:encounter`));
        shown = ids(b, 'include');
        break;
      }
      case 'revinclude': {
        const b = asBundle(await get(`/fhir/Encounter?patient=Patient/${f.patient}&_revinclude=Condition:encounter`));
        shown = ids(b, 'include');
        break;
      }
      case 'history':
        for (const key of [...labelledKeys, ...unlabelledKeys]) {
          const h = await get(`/fhir/${key}/_history`);
          if (h.status === 200 && (asBundle(h).entry ?? []).length > 0) shown.push(key);
        }
        break;
      case 'type-history': {
        shown = [...ids(asBundle(await get('/fhir/Condition/_history?_count=1000'))), ...ids(asBundle(await get('/fhir/Encounter/_history?_count=1000')))];
        break;
      }
      case 'everything': {
        const b = asBundle(await get(`/fhir/Patient/${f.patient}/$everything`));
        shown = ids(b);
        [total, entries] = [b.total, shown.length];
        break;
      }
    }
    return { labelled: labelledKeys.filter((k) => shown.includes(k)), unlabelled: unlabelledKeys.filter((k) => shown.includes(k)), total, entries };
  }

  const cases = PERSONS.flatMap((p) => CLINICIANS.flatMap((c) => PATHS.map((path) => ({ person: p.key, clinician: c.key, path, visible: p.psyShared || c.btg }))));

  it.each(cases)('$path · $person · $clinician → labelled visible: $visible', async ({ person: p, clinician, path, visible }) => {
    const f = fixtures[p];
    const out = await seen(tokens[clinician], f, path);
    // Includes follow the page's visible matches: the always-visible hypertension Condition points at the psych visit
    // (labelled), the depression Condition at the plain visit; the psych visit is a match for _revinclude.
    const labelled = { include: [`Encounter/${f.psychVisit}`], revinclude: [`Condition/${f.depression}`] }[path as string] ?? [`Condition/${f.depression}`, `Encounter/${f.psychVisit}`];
    const unlabelled = { include: [`Encounter/${f.visit}`], revinclude: [`Condition/${f.hypertension}`] }[path as string] ?? [`Condition/${f.hypertension}`, `Encounter/${f.visit}`];
    const followsLabelled = path === 'include' || path === 'revinclude';
    expect(out.labelled.sort()).toEqual(visible ? labelled.sort() : []);
    expect(out.unlabelled.sort()).toEqual(followsLabelled && !visible ? [] : unlabelled.sort());
    if (out.total !== undefined) expect(out.total).toBe(out.entries);
  });

  it('stores each version with its own labels', async () => {
    const f = fixtures['shares-PSY'];
    const rows = await server.services.db.query<{ id: string; version_id: number; security: string[] }>(
      `select id, version_id, security from resource_history where resource_type = 'Condition' and id = any($1::text[]) order by id, version_id`, [[f.corrected, f.escalated]]);
    const labels = Object.fromEntries(rows.rows.map((r) => [`${r.id === f.corrected ? 'corrected' : 'escalated'}/${r.version_id}`, r.security.join(',')]));
    expect(labels).toEqual({ 'corrected/1': 'PSY', 'corrected/2': '', 'escalated/1': '', 'escalated/2': 'PSY' });
  });

  const versionCases = PERSONS.flatMap((p) => CLINICIANS.map((c) => ({ person: p.key, clinician: c.key, visible: p.psyShared || c.btg })));

  it.each(versionCases)('versions by vread, history and type history · $person · $clinician → labelled versions visible: $visible', async ({ person: p, clinician, visible }) => {
    const f = fixtures[p];
    const get = async (url: string) => fhir(server, tokens[clinician], 'GET', url);
    const code = (r: { body: unknown }) => (r.body as { code?: { coding?: Array<{ code?: string }> } }).code?.coding?.[0]?.code;
    // The correction is always visible; its labelled first version only when shared or under break-the-glass.
    const [v1, v2] = [await get(`/fhir/Condition/${f.corrected}/_history/1`), await get(`/fhir/Condition/${f.corrected}/_history/2`)];
    expect([v1.status, v2.status, code(v2)]).toEqual([visible ? 200 : 403, 200, 'I10']);
    if (visible) expect(code(v1)).toBe('F32.9');
    else expect(JSON.stringify(v1.body)).not.toContain('F32.9');
    expect((await get(`/fhir/Condition/${f.corrected}`)).status).toBe(200);
    // The escalated resource's unlabelled first version is withheld with it (the current row's labels apply too).
    expect((await get(`/fhir/Condition/${f.escalated}/_history/1`)).status).toBe(visible ? 200 : 403);
    const versions = (b: Bundle, id: string) => (b.entry ?? []).filter((e) => e.resource?.id === id).map((e) => e.resource?.meta?.versionId);
    const own = asBundle(await get(`/fhir/Condition/${f.corrected}/_history`));
    expect(versions(own, f.corrected)).toEqual(visible ? ['2', '1'] : ['2']);
    expect(own.total).toBe((own.entry ?? []).length);
    expect(JSON.stringify(own).includes('F32.9')).toBe(visible);
    expect(versions(asBundle(await get(`/fhir/Condition/${f.escalated}/_history`)), f.escalated)).toEqual(visible ? ['2', '1'] : []);
    const type = asBundle(await get('/fhir/Condition/_history?_count=1000'));
    expect([versions(type, f.corrected), versions(type, f.escalated)]).toEqual(visible ? [['2', '1'], ['2', '1']] : [['2'], []]);
  });

  // Last: it deletes a fixture resource. The deletion keeps the deleted version's labels: the withheld depression
  // diagnosis shows neither its earlier versions nor its deletion.
  it('a deleted labelled resource stays withheld on every history path', async () => {
    const f = fixtures['shares-HIV-only'];
    const labelsOf = async () => (await server.services.db.query<{ security: string[]; deleted: boolean }>(
      `select security, deleted from resources where resource_type = 'Condition' and id = $1`, [f.depression])).rows[0];
    const before = await labelsOf();
    expect(before.security).toContain('PSY');
    const del = await fhir(server, feed, 'DELETE', `/fhir/Condition/${f.depression}`);
    expect(del.status).toBeLessThan(300);
    expect(await labelsOf()).toEqual({ security: before.security, deleted: true });
    const token = tokens['no-btg'];
    const own = await fhir(server, token, 'GET', `/fhir/Condition/${f.depression}/_history`);
    expect(own.status === 200 ? (asBundle(own).entry ?? []).length : 0).toBe(0);
    expect(JSON.stringify(own.body)).not.toContain('F32.9');
    const typeHistory = await fhir(server, token, 'GET', '/fhir/Condition/_history?_count=1000');
    expect(ids(asBundle(typeHistory))).not.toContain(`Condition/${f.depression}`);
    // The other person shares PSY: only their diagnoses (and versions) coded as depression may appear.
    const shown = (asBundle(typeHistory).entry ?? []).filter((e) => JSON.stringify(e).includes('F32.9')).map((e) => e.resource?.id);
    const sharer = fixtures['shares-PSY'];
    expect([...new Set(shown)].sort()).toEqual([sharer.depression, sharer.corrected, sharer.escalated].sort());
    expect((await fhir(server, token, 'GET', `/fhir/Condition/${f.depression}/_history/1`)).status).not.toBe(200);
  });
});
