import type { Ccda } from '@medplum/ccda';
import type { DocumentReference, Encounter, DocumentReferenceRelatesTo, Identifier, Organization, Patient, Provenance, Reference } from '@medplum/fhirtypes';
import { arr, attr, concept, effective, fhirDateTime, fhirInstant, textOf, usableIds } from './cda-values.ts';
import { identifierFromCdaId } from './dedupe-keys.ts';
import type { CcdaVersion } from './validate.ts';

const FORMAT_SYSTEM = 'http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode';
const CONFIDENTIALITY = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
const RELATION: Record<string, DocumentReferenceRelatesTo['code']> = { RPLC: 'replaces', APND: 'appends', XFRM: 'transforms' };

export interface DocumentRefs {
  patient: Reference<Patient>;
  binaryUrl: string;
  author?: Reference<Organization>;
  custodian?: Reference<Organization>;
  encounter?: Reference<Encounter>;
}

export function documentIdentifier(ccda: Ccda): Identifier | undefined {
  const id = usableIds(ccda.id)[0];
  return id ? identifierFromCdaId(id) : undefined;
}

/** ClinicalDocument header → DocumentReference pointing at the Binary that holds the original XML. */
export function mapDocumentReference(ccda: Ccda, version: CcdaVersion, refs: DocumentRefs): DocumentReference {
  const doc = ccda as Ccda & Record<string, unknown>;
  const structured = !!(doc.component as Record<string, unknown> | undefined)?.structuredBody;
  const created = fhirDateTime(attr(arr(ccda.effectiveTime)[0], 'value'));
  const title = textOf(ccda.title);
  const resource: DocumentReference = {
    resourceType: 'DocumentReference',
    status: 'current',
    docStatus: 'final',
    subject: refs.patient,
    content: [
      {
        attachment: { contentType: 'application/xml', url: refs.binaryUrl, ...(title ? { title } : {}), ...(created ? { creation: created } : {}) },
        format: { system: FORMAT_SYSTEM, code: `urn:hl7-org:sdwg:ccda-${structured ? 'structuredBody' : 'nonXMLBody'}:${version === 'R1.1' ? '1.1' : '2.1'}` },
      },
    ],
  };
  const master = documentIdentifier(ccda);
  if (master) resource.masterIdentifier = master;
  const type = concept(ccda.code);
  if (type) resource.type = type;
  const date = fhirInstant(attr(arr(ccda.effectiveTime)[0], 'value'));
  if (date) resource.date = date;
  if (refs.author) resource.author = [refs.author];
  if (refs.custodian) resource.custodian = refs.custodian;
  const confidentiality = attr(ccda.confidentialityCode, 'code');
  if (confidentiality) resource.securityLabel = [{ coding: [{ system: CONFIDENTIALITY, code: confidentiality }] }];
  const period = effective(arr(ccda.documentationOf)[0]?.serviceEvent?.effectiveTime);
  const context: DocumentReference['context'] = {};
  if (period.period) context.period = period.period;
  else if (period.dateTime) context.period = { start: period.dateTime };
  if (refs.encounter) context.encounter = [refs.encounter];
  if (Object.keys(context).length) resource.context = context;
  const relatesTo = relatedDocuments(doc.relatedDocument);
  if (relatesTo.length) resource.relatesTo = relatesTo;
  return resource;
}

/** The documents this one replaces (relatedDocument RPLC): a correction whose items supersede theirs. */
export function replacedDocuments(ccda: Ccda): Identifier[] {
  return relatedDocuments((ccda as Ccda & Record<string, unknown>).relatedDocument).flatMap((r) => (r.code === 'replaces' && r.target.identifier ? [r.target.identifier] : []));
}

function relatedDocuments(related: unknown): DocumentReferenceRelatesTo[] {
  return arr(related as Record<string, unknown> | Record<string, unknown>[]).flatMap((r) => {
    const code = RELATION[attr(r, 'typeCode') ?? ''];
    const parent = r.parentDocument as { id?: unknown } | undefined;
    const id = usableIds(parent?.id as never)[0];
    const identifier = id ? identifierFromCdaId(id) : undefined;
    return code && identifier ? [{ code, target: { identifier } }] : [];
  });
}

/** One Provenance per document: what was derived from it, when it was received, who vouches for it. */
export function mapProvenance(targets: string[], documentUrl: string, recorded: string, agent: Reference<Organization> | undefined): Provenance {
  return {
    resourceType: 'Provenance',
    target: targets.map((reference) => ({ reference })),
    recorded,
    activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: 'CREATE' }] },
    agent: [
      {
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'custodian' }] },
        who: agent ?? { display: 'unknown C-CDA sender' },
      },
    ],
    entity: [{ role: 'source', what: { reference: documentUrl } }],
  };
}
