import { afterAll, beforeAll, describe, it } from 'vitest';
import { registeredRoutes } from '../../src/http/routes/index.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { buildCareFixture, attestFor, type CareFixture } from '../support/care-fixture.ts';

describe('scratch', () => {
  let server: TestServer; let f: CareFixture;
  beforeAll(async () => { server = await startTestServer('pglite'); f = await buildCareFixture(server);
    console.log('attest', await attestFor(server, f.tokens.clinician, f.persons.attestation.patients.B!)); }, 300_000);
  afterAll(async () => server?.stop());
  it('dumps', async () => {
    console.log(JSON.stringify(registeredRoutes));
    const get = async (role: keyof CareFixture['tokens'], url: string) => { const r = await server.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${f.tokens[role]}` } }); return `${r.statusCode} ${r.body.slice(0, 600)}`; };
    const p = f.persons;
    console.log(JSON.stringify(p.encounter));
    const db = await server.services.db.query('select resource_type, count(*)::int n from resources group by 1');
    console.log(JSON.stringify(db.rows));
    console.log('clin none patient', await get('clinician', `/fhir/Patient/${p.none.patients.B}`));
    console.log('clin none obs', await get('clinician', `/fhir/Observation?patient=${p.none.patients.B}`));
    console.log('clin none read', await get('clinician', `/fhir/Condition/${p.none.resources.find(r=>r.type==='Condition')!.id}`));
    console.log('clin enc everything', await get('clinician', `/fhir/Patient/${p.encounter.patients.A}/$everything`));
    console.log('clin has', await get('clinician', `/fhir/Patient?_has:Condition:patient:code=B20`));
    console.log('admin has', await get('admin', `/fhir/Patient?_has:Observation:patient:code=2345-7&_count=100&_elements=id`));
    console.log('clin hist none', await get('clinician', `/fhir/Condition/${p.none.resources.find(r=>r.type==='Condition')!.id}/_history`));
    console.log('sysb hist', await get('system-b', `/fhir/_history?_count=1`));
    console.log('pat att', await get('patient', `/fhir/Patient/${p.encounter.patients.A}/$access-report`));
  });
});
