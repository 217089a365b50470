/** Typed calls to Katahdin's FHIR API (base /fhir). */
import type { Binary, Bundle, BundleLink, Organization, Parameters, Patient, Person, Resource } from '@medplum/fhirtypes';
import { request, requestJson } from './http.ts';
import type { AccessReport, ConsentAction, ConsentChannel, ConsentStatus, SensitiveCategory } from './types.ts';
import { paramBool, paramString, paramsOf } from './parameters.ts';
import { toConsentStatus } from './consent-status.ts';

const FHIR_JSON = 'application/fhir+json';

function fhirGet<T>(path: string): Promise<T> {
  return requestJson<T>(path, { accept: FHIR_JSON });
}

function fhirPost<T>(path: string, body: unknown): Promise<T> {
  return requestJson<T>(path, { method: 'POST', body, accept: FHIR_JSON, contentType: FHIR_JSON });
}

export interface PatientQuery {
  family?: string;
  given?: string;
  name?: string;
  birthdate?: string;
  gender?: string;
  identifier?: string;
}

export async function searchPatients(query: PatientQuery): Promise<Patient[]> {
  const params = new URLSearchParams({ _count: '50' });
  for (const [k, v] of Object.entries(query)) if (v) params.set(k, v);
  const bundle = await fhirGet<Bundle<Patient>>(`/fhir/Patient?${params.toString()}`);
  return (bundle.entry ?? []).flatMap((e) => (e.resource?.resourceType === 'Patient' ? [e.resource] : []));
}

export function getPerson(id: string): Promise<Person> {
  return fhirGet<Person>(`/fhir/Person/${encodeURIComponent(id)}`);
}

export function getPatient(id: string): Promise<Patient> {
  return fhirGet<Patient>(`/fhir/Patient/${encodeURIComponent(id)}`);
}

/** Same-origin path of a paging link (servers may send absolute URLs). */
function nextPath(links: BundleLink[] | undefined): string | undefined {
  const url = links?.find((l) => l.relation === 'next')?.url;
  if (!url) return undefined;
  const parsed = new URL(url, window.location.origin);
  return `${parsed.pathname}${parsed.search}`;
}

/** The whole longitudinal record ($everything), following next links. */
export async function getEverything(patientId: string): Promise<Resource[]> {
  const out: Resource[] = [];
  let path: string | undefined = `/fhir/Patient/${encodeURIComponent(patientId)}/$everything?_count=500`;
  for (let page = 0; path && page < 50; page++) {
    const bundle: Bundle = await fhirGet<Bundle>(path);
    for (const e of bundle.entry ?? []) if (e.resource) out.push(e.resource);
    path = nextPath(bundle.link);
  }
  return out;
}

function reasonParams(reason: string): Parameters {
  return { resourceType: 'Parameters', parameter: [{ name: 'reason', valueString: reason }] };
}

/** Attests a treatment relationship; returns when it expires. */
export async function attest(patientId: string, reason: string): Promise<string | undefined> {
  const p = await fhirPost<Parameters>(`/fhir/Patient/${encodeURIComponent(patientId)}/$attest`, reasonParams(reason));
  return paramString(p, 'expires');
}

export interface BreakGlassState {
  active: boolean;
  expires?: string;
}

export async function breakGlass(patientId: string, reason: string): Promise<BreakGlassState> {
  const p = await fhirPost<Parameters>(`/fhir/Patient/${encodeURIComponent(patientId)}/$break-the-glass`, reasonParams(reason));
  return { active: true, expires: paramString(p, 'expires') };
}

export async function breakGlassStatus(patientId: string): Promise<BreakGlassState> {
  const p = await fhirGet<Parameters>(`/fhir/Patient/${encodeURIComponent(patientId)}/$break-the-glass`);
  return { active: paramBool(p, 'active') ?? false, expires: paramString(p, 'expires') };
}

export async function consentStatus(patientId: string): Promise<ConsentStatus> {
  return toConsentStatus(await fhirGet<Parameters>(`/fhir/Patient/${encodeURIComponent(patientId)}/$consent-status`));
}

export interface ConsentChange {
  action: ConsentAction;
  category?: SensitiveCategory;
  channel: ConsentChannel;
  date?: string;
}

export async function recordConsent(patientId: string, change: ConsentChange): Promise<ConsentStatus> {
  const body = paramsOf([
    ['action', { valueCode: change.action }],
    ['category', change.category ? { valueCode: change.category } : undefined],
    ['channel', { valueCode: change.channel }],
    ['date', change.date ? { valueDate: change.date } : undefined],
  ]);
  return toConsentStatus(await fhirPost<Parameters>(`/fhir/Patient/${encodeURIComponent(patientId)}/$consent`, body));
}

export function accessReport(patientId: string): Promise<AccessReport> {
  return requestJson<AccessReport>(`/fhir/Patient/${encodeURIComponent(patientId)}/$access-report?_format=json`);
}

/** Downloads the access report as a file (Blob) in the given format. */
export async function accessReportFile(patientId: string, format: 'csv' | 'pdf'): Promise<Blob> {
  const accept = format === 'csv' ? 'text/csv' : 'application/pdf';
  const res = await request(`/fhir/Patient/${encodeURIComponent(patientId)}/$access-report?_format=${format}`, { accept });
  return res.blob();
}

/** The path of a URL the server handed out (it names its public address, which a proxy may present differently). */
const pathOf = (url: string): string => {
  const u = new URL(url, window.location.origin);
  return `${u.pathname}${u.search}`;
};

/**
 * The signed-in patient's whole record as one FHIR NDJSON file, through a Bulk Data export of their own record (the
 * server lets a patient export nothing else): kick-off, wait for the files, join them.
 */
export async function exportMyRecord(): Promise<Blob> {
  const kickOff = await request('/fhir/Patient/$export', { accept: FHIR_JSON, headers: { Prefer: 'respond-async' } });
  const status = pathOf(kickOff.headers.get('content-location') ?? '');
  for (let attempt = 0; attempt < 240; attempt++) {
    const res = await request(status);
    if (res.status === 200) {
      const manifest = (await res.json()) as { output: Array<{ url: string }> };
      const parts: string[] = [];
      for (const out of manifest.output) parts.push(await (await request(pathOf(out.url), { accept: 'application/fhir+ndjson' })).text());
      return new Blob(parts, { type: 'application/fhir+ndjson' });
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error('Your record is taking longer than usual to prepare. Please try again in a few minutes.');
}

/** Reads an attachment's bytes through the API (relative `Binary/<id>` urls or same-origin absolute urls). */
export async function readAttachmentUrl(url: string): Promise<{ contentType?: string; data?: string; text?: string }> {
  const u = new URL(url, `${window.location.origin}/fhir/`);
  if (u.origin !== window.location.origin) throw new Error('This document is stored elsewhere and cannot be opened here.');
  const res = await request(`${u.pathname}${u.search}`, { accept: `${FHIR_JSON}, */*` });
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('json')) {
    const binary = (await res.json()) as Binary;
    return { contentType: binary.contentType, data: binary.data };
  }
  return { contentType: type.split(';')[0], text: await res.text() };
}

export async function listOrganizations(): Promise<Organization[]> {
  const bundle = await fhirGet<Bundle<Organization>>('/fhir/Organization?_count=200');
  return (bundle.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
}

export function createOrganization(org: Organization): Promise<Organization> {
  return fhirPost<Organization>('/fhir/Organization', org);
}
