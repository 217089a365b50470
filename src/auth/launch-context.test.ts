import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitStatements } from '../store/migrate.ts';
import { exchangeCode, postForm, signIn, startTestEnv, type TestEnv } from './test-support.ts';

// SMART App Launch v2 standalone patient launch: `patient` in the token response, through the real sign-in routes.
let env: TestEnv;
const PASSWORD = 'correct horse battery';

async function migrate(env: TestEnv, file: string): Promise<void> {
  const text = await readFile(new URL(`../store/migrations/${file}`, import.meta.url), 'utf8');
  for (const statement of splitStatements(text)) await env.db.query(statement);
}

async function storePatient(id: string, personId: string, lastUpdated: string, deleted = false): Promise<void> {
  await env.db.query(
    `insert into resources (resource_type, id, version_id, last_updated, deleted, patient_id, person_id, content)
     values ('Patient', $1, 1, $2, $3, $1, $4, $5)`,
    [id, lastUpdated, deleted, personId, JSON.stringify({ resourceType: 'Patient', id })],
  );
  await env.db.query(`insert into mpi_links (patient_id, person_id, assurance) values ($1, $2, 'level3')`, [id, personId]);
}

beforeAll(async () => {
  env = await startTestEnv();
  // The resource and MPI tables the launch context is read from (the auth tests otherwise have only their own).
  await migrate(env, '0001_resources.sql');
  await migrate(env, '0005_access_facts.sql');
  await env.auth.addUser({ username: 'pat', password: PASSWORD, role: 'patient', displayName: 'Pat Patient', personId: 'person-9' });
  await env.auth.addUser({ username: 'lonely', password: PASSWORD, role: 'patient', displayName: 'Lee Lonely', personId: 'person-0' });
  await env.auth.addUser({ username: 'dr.demo', password: PASSWORD, role: 'clinician', displayName: 'Dr. Dana Demo', organizationId: 'org-1', practitionerId: 'pr-1' });
  // person-9 has two source Patients and a newer, deleted one; another person's Patient is newest of all.
  await storePatient('pat-old', 'person-9', '2026-01-01T00:00:00Z');
  await storePatient('pat-new', 'person-9', '2026-06-01T00:00:00Z');
  await storePatient('pat-gone', 'person-9', '2026-09-01T00:00:00Z', true);
  await storePatient('someone-else', 'person-7', '2026-11-01T00:00:00Z');
});
afterAll(async () => {
  await env.app.close();
  await env.db.close();
});

async function tokenFor(username: string, scope: string) {
  const login = await signIn(env.app, { username, password: PASSWORD, scope });
  const res = await exchangeCode(env.app, login.code!, login.verifier);
  expect(res.statusCode).toBe(200);
  return res.json();
}

describe('SMART launch context: patient', () => {
  it('is advertised in the SMART configuration', async () => {
    const body = (await env.app.inject({ method: 'GET', url: '/.well-known/smart-configuration' })).json();
    expect(body.capabilities).toEqual(expect.arrayContaining(['launch-standalone', 'context-standalone-patient']));
  });

  it("gives a patient asking for launch/patient their person's most recently updated stored Patient", async () => {
    const body = await tokenFor('pat', 'openid launch/patient patient/*.rs');
    expect(body.scope.split(' ')).toContain('launch/patient');
    expect(body.patient).toBe('pat-new');
    expect(body.person_id).toBe('person-9');
  });

  it('is absent when the patient did not ask for launch/patient', async () => {
    const body = await tokenFor('pat', 'openid patient/*.rs');
    expect(body.scope).toBe('openid patient/*.rs');
    expect(body).not.toHaveProperty('patient');
  });

  it('is absent for a patient whose person has no stored Patient', async () => {
    const body = await tokenFor('lonely', 'openid launch/patient patient/*.rs');
    expect(body.scope.split(' ')).toContain('launch/patient');
    expect(body).not.toHaveProperty('patient');
  });

  it('is never given to a clinician, even one granted launch/patient', async () => {
    const body = await tokenFor('dr.demo', 'openid launch/patient user/*.rs');
    expect(body.scope.split(' ')).toContain('launch/patient');
    expect(body).not.toHaveProperty('patient');
  });

  it('comes back on refresh, and goes when the refresh narrows launch/patient away', async () => {
    const first = await tokenFor('pat', 'openid launch/patient patient/*.rs');
    const refresh = (token: string, scope?: string) => postForm(env.app, '/oauth/token', {
      grant_type: 'refresh_token', refresh_token: token, client_id: 'katahdin-web', ...(scope ? { scope } : {}),
    });
    const second = await refresh(first.refresh_token);
    expect(second.statusCode).toBe(200);
    expect(second.json().patient).toBe('pat-new');
    const narrowed = await refresh(second.json().refresh_token, 'openid patient/*.rs');
    expect(narrowed.statusCode).toBe(200);
    expect(narrowed.json().scope).toBe('openid patient/*.rs');
    expect(narrowed.json()).not.toHaveProperty('patient');
  });
});
