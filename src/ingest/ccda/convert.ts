import type { Ccda, CcdaEncounter } from '@medplum/ccda';
import { convertXmlToCcda } from '@medplum/ccda';
import type { Binary, Bundle, Identifier, Organization, Patient, Reference } from '@medplum/fhirtypes';
import { arr } from './cda-values.ts';
import { BundleCollector } from './collector.ts';
import { identifierQuery, sha256Hex } from './dedupe-keys.ts';
import { documentIdentifier, mapDocumentReference, mapProvenance, replacedDocuments } from './document.ts';
import { CcdaIngestError, ccdaError, type CcdaError } from './errors.ts';
import { mapOrganization, mapPatient, sourceSegment, SSN_SYSTEM } from './header.ts';
import { mapEncounter } from './entries/encounter.ts';
import { convertSection, sectionKind } from './sections.ts';
import { validateCcda, type CcdaVersion } from './validate.ts';

export interface ConvertOptions {
  /** When the document was received (Provenance.recorded); conversion never reads the clock. */
  now: string;
  /** Used for meta.source when the document names neither a custodian nor an author organization. */
  sourceOrgIdentifier?: string;
  /**
   * Conditional update (PUT Type?identifier=…) instead of conditional create, so a later document's version wins.
   * Defaults to true for a replacement (relatedDocument RPLC): a correction must overwrite what its parent stored.
   */
  updateExisting?: boolean;
  /** C-CDA version when already known from validateCcda (sets the DocumentReference format code). */
  version?: CcdaVersion;
}

export interface ConversionResult {
  /** FHIR R4 transaction Bundle: Binary, DocumentReference, Patient, Organization(s), clinical resources, Provenance. */
  bundle: Bundle;
  /** Entries per resource type, plus `skipped:<reason>` and `duplicates-merged` counters. */
  summary: Record<string, number>;
}

export type IngestResult =
  | { ok: true; bundle: Bundle; summary: Record<string, number>; warnings: string[] }
  | { ok: false; error: CcdaError };

/** Validate then convert; never throws (unexpected failures become a 422 `conversion-failed`). */
export function ingestCcda(input: string | Uint8Array, opts: ConvertOptions): IngestResult {
  const valid = validateCcda(input);
  if (!valid.ok) return valid;
  try {
    const { bundle, summary } = convertCcda(valid.xml, { ...opts, version: valid.version });
    return { ok: true, bundle, summary, warnings: valid.warnings };
  } catch (err) {
    if (err instanceof CcdaIngestError) return { ok: false, error: err.detail };
    return { ok: false, error: ccdaError(422, 'conversion-failed', 'The document could not be converted.') };
  }
}

/**
 * Pure C-CDA → FHIR transaction Bundle. Expects a document that passed validateCcda; throws
 * CcdaIngestError when it cannot identify a patient. Output is deterministic for a given input.
 */
export function convertCcda(xml: string, opts: ConvertOptions): ConversionResult {
  const ccda = convertXmlToCcda(xml) as Ccda | undefined;
  if (!ccda || typeof ccda !== 'object') throw new CcdaIngestError(ccdaError(422, 'not-ccda', 'No ClinicalDocument element was found.'));
  if (!arr(ccda.recordTarget)[0]?.patientRole) {
    throw new CcdaIngestError(ccdaError(422, 'missing-patient', 'recordTarget/patientRole is missing.', '/ClinicalDocument/recordTarget'));
  }
  const docId = documentIdentifier(ccda);
  const documentKey = docId ? `${docId.system}|${docId.value}` : sha256Hex(xml);
  const custodian = mapOrganization(ccda.custodian?.assignedCustodian?.representedCustodianOrganization);
  const authorOrg = mapOrganization(arr(ccda.author)[0]?.assignedAuthor?.representedOrganization);
  const segment = sourceSegment(custodian?.key) ?? sourceSegment(authorOrg?.key) ?? opts.sourceOrgIdentifier ?? 'unknown';
  const { patient, key } = mapPatient(ccda);
  const updateExisting = opts.updateExisting ?? replacedDocuments(ccda).length > 0;
  const out = new BundleCollector(documentKey, `urn:katahdin:ccda:${segment}`, updateExisting, subjectOf(patient, key));

  const binaryUrl = out.nextFullUrl();
  const documentUrl = out.nextFullUrl();
  const patientUrl = out.nextFullUrl();
  out.patient = { reference: patientUrl };
  // securityContext puts the original document in the patient's compartment (same privacy rules, purge on opt-out).
  const binary: Binary = { resourceType: 'Binary', contentType: 'application/xml', securityContext: { reference: patientUrl }, data: Buffer.from(xml, 'utf8').toString('base64') };
  out.push(binaryUrl, binary, { method: 'POST', url: 'Binary' });

  const custodianRef = addOrganization(out, custodian);
  const authorRef = authorOrg && !sameKey(authorOrg.key, custodian?.key) ? addOrganization(out, authorOrg) : custodianRef;
  const encounter = componentOfEncounter(ccda);
  const encounterRef = encounter ? { reference: mapEncounter(encounter, out) } : undefined;
  const refs = { patient: out.patient, binaryUrl, author: authorRef, custodian: custodianRef, encounter: encounterRef };
  const docRef = mapDocumentReference(ccda, opts.version ?? 'R2.1', refs);
  out.push(documentUrl, docRef, docId ? { method: 'POST', url: 'DocumentReference', ifNoneExist: identifierQuery(docId) } : { method: 'POST', url: 'DocumentReference' });

  // The sender's record of the patient is found again by its record number or, in documents that carry none (as the
  // ONC certification samples), by the SSN: searched through its keyed hash and among the sender's own records only
  // (`sameSource`), so each upload does not add another source Patient.
  const patientKey = key ?? patient.identifier?.find((i) => i.system === SSN_SYSTEM);
  out.push(patientUrl, patient, patientKey ? { method: 'PUT', url: `Patient?${identifierQuery(patientKey)}` } : { method: 'POST', url: 'Patient' });

  convertBody(ccda, out);
  out.finish();
  const targets = out.entries.filter((e) => e.resource?.resourceType !== 'Binary').map((e) => e.fullUrl as string);
  out.push(out.nextFullUrl(), mapProvenance(targets, documentUrl, opts.now, custodianRef ?? authorRef), { method: 'POST', url: 'Provenance' });

  return { bundle: { resourceType: 'Bundle', type: 'transaction', entry: out.entries }, summary: out.counts };
}

/**
 * What scopes derived dedupe keys to the patient: the patient's key identifier; for a patient identified only by an
 * SSN, the first name, birth date and gender (never the SSN: keys are stored and searchable in the clear, and a hash
 * of a nine-digit number is reversed by trying them all).
 */
function subjectOf(patient: Patient, key: Identifier | undefined): string {
  if (key) return `${key.system}|${key.value}`;
  const name = patient.name?.[0];
  return `demographics|${sha256Hex(name?.family, ...(name?.given ?? []), patient.birthDate, patient.gender)}`;
}

function convertBody(ccda: Ccda, out: BundleCollector): void {
  for (const component of arr(ccda.component?.structuredBody?.component)) {
    for (const section of arr(component.section)) {
      const kind = sectionKind(section);
      if (kind) convertSection(section, kind, out);
    }
  }
}

/** componentOf/encompassingEncounter: the visit the document belongs to (same shape as an Encounter Activity). */
function componentOfEncounter(ccda: Ccda): CcdaEncounter | undefined {
  const componentOf = (ccda as Ccda & { componentOf?: { encompassingEncounter?: CcdaEncounter } }).componentOf;
  return arr(componentOf)[0]?.encompassingEncounter;
}

function addOrganization(out: BundleCollector, org: { organization: Organization; key: Identifier } | undefined): Reference<Organization> | undefined {
  if (!org) return undefined;
  const fullUrl = out.nextFullUrl();
  out.push(fullUrl, org.organization, { method: 'POST', url: 'Organization', ifNoneExist: identifierQuery(org.key) });
  return { reference: fullUrl };
}

function sameKey(a: Identifier | undefined, b: Identifier | undefined): boolean {
  return !!a && !!b && a.system === b.system && a.value === b.value;
}
