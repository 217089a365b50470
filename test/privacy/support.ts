/** Shared fixtures for the privacy scenario tests: HL7 v2 messages, FHIR calls with real tokens, internal look-ups. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Bundle, OperationOutcome, Organization, Parameters, Resource } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { FACILITY_SYSTEM } from '../../src/ingest/sender-context.ts';
import { sendMllp } from '../e2e/helpers/mllp.ts';
import type { TestServer } from '../support/test-server.ts';

/** HL7 v2 timestamp (UTC) for a Date. */
export function hl7Ts(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + '+0000';
}

let control = 0;
const nextControl = () => `P${Date.now().toString(36)}${(control++).toString(36)}`;

/** The same person as every hospital knows them; only the MRN differs. */
export interface PersonDemo {
  family: string;
  given: string;
  dob: string;
  sex: 'F' | 'M';
  ssn: string;
  street: string;
  city: string;
  state: string;
  zip: string;
}

/** Eve Betterhalf as the HL7 C-CDA example CCD_1 knows her (so that a C-CDA upload links to the same person). */
export const EVE: PersonDemo = {
  family: 'BETTERHALF', given: 'EVE', dob: '19750501', sex: 'F', ssn: '444-22-2222', street: '2222 Home Street', city: 'Beaverton', state: 'OR', zip: '97867',
};

function msh(facility: string, type: string, at: Date): string {
  return `MSH|^~\\&|EHR|${facility}|KAT|HIE|${hl7Ts(at)}||${type}|${nextControl()}|P|2.5.1`;
}

function pid(p: PersonDemo, facility: string, mrn: string, street = p.street): string {
  return `PID|1||${mrn}^^^${facility}^MR||${p.family}^${p.given}||${p.dob}|${p.sex}|||${street}^^${p.city}^${p.state}^${p.zip}^USA^H||^PRN^PH^^1^207^5550101||||||${p.ssn}`;
}

/** PV1 with patient class, visit number (PV1-19) and admit time (PV1-44). */
function pv1(visit: string, facility: string, at: Date): string {
  const f = Array.from({ length: 45 }, () => '');
  f[0] = 'PV1';
  f[1] = '1';
  f[2] = 'O';
  f[19] = `${visit}^^^${facility}^VN`;
  f[44] = hl7Ts(at);
  return f.join('|');
}

export interface AdtOptions {
  event?: 'A01' | 'A04' | 'A08' | 'A28' | 'A31';
  /** Visit number: omitted for person-only events. */
  visit?: string;
  at?: Date;
  /** ICD-10-CM diagnoses (DG1). */
  diagnoses?: Array<{ code: string; display: string }>;
  street?: string;
}

export function adt(p: PersonDemo, facility: string, mrn: string, o: AdtOptions = {}): string {
  const at = o.at ?? new Date();
  const event = o.event ?? 'A01';
  const lines = [msh(facility, `ADT^${event}^ADT_A01`, at), `EVN|${event}|${hl7Ts(at)}`, pid(p, facility, mrn, o.street)];
  if (o.visit) lines.push(pv1(o.visit, facility, at));
  (o.diagnoses ?? []).forEach((d, i) => lines.push(`DG1|${i + 1}||${d.code}^${d.display}^I10||${hl7Ts(at)}`));
  return lines.join('\r');
}

export interface ResultOptions {
  order: string;
  panel: { code: string; display: string };
  results: Array<{ code: string; display: string; type: 'NM' | 'ST' | 'CWE'; value: string; units?: string }>;
  /** Clinical (observation) time; the message itself is sent now. */
  at: Date;
}

export function oru(p: PersonDemo, facility: string, mrn: string, r: ResultOptions): string {
  const ts = hl7Ts(r.at);
  const lines = [
    msh(facility, 'ORU^R01^ORU_R01', new Date()),
    pid(p, facility, mrn),
    `OBR|1|${r.order}|${r.order}F|${r.panel.code}^${r.panel.display}^LN|||${ts}||||||||||||||||||F`,
    ...r.results.map((x, i) => `OBX|${i + 1}|${x.type}|${x.code}^${x.display}^LN||${x.value}|${x.units ?? ''}|||||F|||${ts}`),
  ];
  return lines.join('\r');
}

/** Sends over MLLP and returns the MSA-1 acknowledgement code. */
export async function sendHl7(server: TestServer, message: string): Promise<string> {
  if (!server.mllpPort) throw new Error('the test server has no MLLP listener');
  const ack = await sendMllp(server.mllpPort, message);
  const msa = ack.split('\r').find((s) => s.startsWith('MSA|'));
  return msa?.split('|')[1] ?? `no MSA in ${ack.slice(0, 80)}`;
}

/** The facility's organization (registered the way a feed's first message would). */
export async function facilityOrganization(server: TestServer, facility: string): Promise<string> {
  const s = server.services;
  return s.gate.run(systemContext('test setup'), { action: 'create' }, async (scope) => {
    const found = await scope.searchType('Organization', [['identifier', `${FACILITY_SYSTEM}|${facility}`]], false);
    if (found.matches[0]) return found.matches[0].id!;
    const created = await s.records.create(scope, { resourceType: 'Organization', name: `${facility} Hospital`, identifier: [{ system: FACILITY_SYSTEM, value: facility }], active: true } satisfies Organization);
    return created.resource.id!;
  });
}

/** Source Patient id for a facility's MRN, and its person (internal look-up; tests only). */
export async function patientOf(server: TestServer, facility: string, mrn: string): Promise<{ patientId: string; personId: string }> {
  const s = server.services;
  return s.gate.run(systemContext('test lookup'), { action: 'read' }, async (scope) => {
    const found = await scope.searchType('Patient', [['identifier', `urn:katahdin:id:${facility}|${mrn}`]], false);
    const patientId = found.matches[0]?.id;
    if (!patientId) throw new Error(`no Patient for ${facility} ${mrn}`);
    const personId = await s.links.personOf(scope, patientId);
    if (!personId) throw new Error('Patient not linked');
    return { patientId, personId };
  });
}

export interface FhirResponse {
  status: number;
  body: unknown;
}

export const asBundle = (r: FhirResponse): Bundle => r.body as Bundle;
export const asOutcome = (r: FhirResponse): OperationOutcome => r.body as OperationOutcome;
/** A Parameters answer as name → values (valueString/valueCode/valueBoolean). */
export function asParams(r: FhirResponse): Record<string, Array<string | boolean>> {
  const out: Record<string, Array<string | boolean>> = {};
  for (const p of (r.body as Parameters).parameter ?? []) {
    const v = p.valueString ?? p.valueCode ?? p.valueBoolean ?? p.valueDateTime ?? p.valueInteger;
    if (v !== undefined) (out[p.name] ??= []).push(typeof v === 'number' ? String(v) : v);
  }
  return out;
}

export async function fhir(server: TestServer, token: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown): Promise<FhirResponse> {
  const res = await server.app.inject({
    method, url, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
    payload: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
}

/** POST …/$consent with the given action (and category). */
export async function consent(server: TestServer, token: string, patientId: string, action: string, extra: Record<string, string> = {}): Promise<FhirResponse> {
  const parameter = Object.entries({ action, ...extra }).map(([name, valueString]) => ({ name, valueString }));
  return fhir(server, token, 'POST', `/fhir/Patient/${patientId}/$consent`, { resourceType: 'Parameters', parameter });
}

export const resourcesOf = (b: Bundle): Resource[] => (b.entry ?? []).map((e) => e.resource!).filter(Boolean);
/** Every code of every coding in a Bundle's resources (what a clinician could read). */
export const codesIn = (b: Bundle): string[] => [...JSON.stringify(b).matchAll(/"code":"([^"]+)"/g)].map((m) => m[1]);

/** Rows of any table via the server's database (test oracle only). */
export async function count(server: TestServer, text: string, values: unknown[] = []): Promise<number> {
  const r = await server.services.db.query<{ n: number }>(text, values);
  return Number(r.rows[0]?.n ?? 0);
}

/** The CCD sample of the C-CDA corpus, or undefined (with a printed notice naming what is skipped) where `../shared` is absent. */
export function ccdSample(skipped: string): string | undefined {
  const path = resolve(process.cwd(), '../shared/corpora/ccda/hl7-examples/documents/CCD_1.xml');
  if (existsSync(path)) return path;
  console.warn(`corpus ${path} absent: skipping ${skipped}`);
  return undefined;
}
