import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import type { FastifyBaseLogger } from 'fastify';
import type { Bundle, Patient } from '@medplum/fhirtypes';
import { systemContext, type AccessContext } from '../access/context.ts';
import type { Services } from '../services.ts';
import { DEMO_ORGANIZATIONS, DEMO_PASSWORD, DEMO_USERS } from './demo-organizations.ts';
import { sendDemoMessages } from './demo-feeds.ts';

/** How many Synthea patients the demo loads (each a transaction Bundle submitted by the demo hospital's EHR). */
const DEMO_PATIENTS = 8;

export function syntheaDir(): string {
  return resolve(process.env.KATAHDIN_CORPORA ?? resolve(process.cwd(), '../shared/corpora'), 'synthea-r4/bundles');
}

function ehrContext(orgId: string, name: string): AccessContext {
  return { clientId: 'demo-ehr', displayName: name, role: 'system', organizationId: orgId, scopes: ['system/*.cruds'], purposeOfUse: 'TREAT' };
}

/**
 * First start only: organizations, one user per role (password `katahdin-demo`), the `demo-ehr` system client,
 * Synthea patients submitted by Downeast Medical Center, and a patient portal account. Idempotent.
 */
export async function loadDemoData(s: Services, log: FastifyBaseLogger): Promise<void> {
  const existing = await s.db.query('select 1 from users where username = $1', ['admin']);
  if (existing.rows.length > 0) return;
  const internal = systemContext('demo loader');
  await s.gate.run(internal, { action: 'create', query: 'demo organizations' }, async (scope) => {
    for (const org of DEMO_ORGANIZATIONS) await s.records.update(scope, 'Organization', org.id, org);
  });
  const totp: Record<string, string> = {};
  for (const u of DEMO_USERS) {
    await s.auth.addUser({ ...u, password: DEMO_PASSWORD });
    if (u.role === 'admin' || u.role === 'privacy-officer') totp[u.username] = await s.auth.enrolTotp(u.username);
  }
  await addDemoEhr(s);
  const patients = await loadSynthea(s, log);
  const feeds = await sendDemoMessages(s, patients);
  if (feeds.failed) log.warn(feeds, 'some demo HL7 messages were not accepted');
  if (patients[0]) {
    const personId = await s.gate.run(internal, { action: 'read', query: 'demo patient person' }, (scope) => s.links.personOf(scope, patients[0].id!));
    const name = patients[0].name?.[0];
    await s.auth.addUser({ username: 'patient.demo', password: DEMO_PASSWORD, role: 'patient', personId, displayName: `${name?.given?.[0] ?? ''} ${name?.family ?? ''}`.trim() });
  }
  for (const [username, uri] of Object.entries(totp)) {
    log.info({ username, otpauth: uri }, 'demo MFA enrolment: add this otpauth URI to an authenticator app');
  }
  log.info({ users: [...DEMO_USERS.map((u) => u.username), 'patient.demo'], patients: patients.length }, `demo data loaded; every demo password is "${DEMO_PASSWORD}"`);
}

async function addDemoEhr(s: Services): Promise<void> {
  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  const kid = 'demo-ehr-1';
  const pub = { ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' };
  await s.auth.addClient({ clientId: 'demo-ehr', name: 'Downeast Medical Center EHR (demo)', organizationId: 'org-dmc', scopes: ['system/*.cruds'], jwks: { keys: [pub] } });
  const dir = join(s.config.dataDir, 'keys');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'demo-ehr.private.jwk.json'), JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: 'ES384' }), { mode: 0o600 });
}

async function loadSynthea(s: Services, log: FastifyBaseLogger): Promise<Patient[]> {
  const dir = syntheaDir();
  if (!existsSync(dir)) {
    log.warn('Synthea corpus not found (../shared/corpora): the demo starts with organizations and users only');
    return [];
  }
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort().slice(0, DEMO_PATIENTS);
  const ctx = ehrContext('org-dmc', 'Downeast Medical Center EHR (demo)');
  const patients: Patient[] = [];
  for (const file of files) {
    const bundle = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Bundle;
    const patient = bundle.entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource as Patient | undefined;
    const result = await s.transactions.execute(ctx, bundle);
    const loc = result.entry?.[bundle.entry!.findIndex((e) => e.resource === patient)]?.response?.location;
    if (patient && loc) patients.push({ ...patient, id: loc.split('/')[1] });
  }
  return patients;
}
