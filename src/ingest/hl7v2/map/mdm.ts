import type { Hl7Segment } from '@medplum/core';
import type { Attachment, DocumentReference, Identifier} from '@medplum/fhirtypes';
import { repAt, val } from '../fields.ts';
import { Hl7ErrorCode, type Hl7Error } from '../types.ts';
import type { BundleBuilder, Ref } from './context.ts';
import { hl7ToFhirDateTime } from './datetime.ts';
import { codeableConcept, identifierSystem } from './datatypes.ts';
import { addPatient, addPractitioner, isError } from './common.ts';
import { edAttachment, obxValue, TEXT_TYPES } from './obx-value.ts';
import { addVisitReference } from './encounter.ts';
import { textAttachment } from './text.ts';

/** MDM events that carry document content (the others are notifications only). */
export const MDM_CONTENT_EVENTS = new Set(['T02', 'T04', 'T06', 'T08', 'T10']);

function content(b: BundleBuilder): Attachment[] {
  const obx = b.parsed.message.getAllSegments('OBX');
  const lines = obx.filter((s) => TEXT_TYPES.has(val(s, 2))).map((s, i) => obxValue(s, i + 1)).map((v) => (v && !isError(v) ? v.valueString ?? '' : ''));
  const forms = obx.filter((s) => val(s, 2) === 'ED').map(edAttachment).filter((a) => a !== undefined);
  return lines.length ? [textAttachment(lines.join('\n')), ...forms] : forms;
}

/** TXA-12 unique document number (EI), else TXA-16 unique filler file number. */
function documentIdentifier(txa: Hl7Segment, facility: string): Identifier | undefined {
  for (const field of [12, 16]) {
    const c = repAt(txa, field, 0);
    if (c(1)) return { system: identifierSystem(c(2), c(3), c(4), facility), value: c(1) };
  }
  return undefined;
}

const DOC_STATUS: Record<string, DocumentReference['docStatus']> = { AU: 'final', LA: 'final', PA: 'preliminary', IP: 'preliminary', IN: 'preliminary', DI: 'preliminary', DO: 'preliminary' };

/** MDM^T02/T04/T06/T08/T10 → DocumentReference with the TXA metadata and OBX text as attachment. */
export function mapMdm(b: BundleBuilder, org: Ref): Hl7Error | undefined {
  const msg = b.parsed.message;
  const txa = msg.getSegment('TXA');
  if (!txa) return { code: Hl7ErrorCode.SegmentSequence, ackCode: 'AE', reason: 'TXA segment missing', location: { segment: 'TXA' } };
  const patient = addPatient(b, msg.getSegment('PID'), org);
  if (isError(patient)) return patient;
  const encounter = addVisitReference(b, patient, org);
  const forms = content(b);
  if (!forms.length) return { code: Hl7ErrorCode.RequiredFieldMissing, ackCode: 'AE', reason: 'document has no OBX content', location: { segment: 'OBX', field: 5 } };
  const identifier = documentIdentifier(txa, b.header.facilityKey);
  const date = hl7ToFhirDateTime(val(txa, 4) || val(txa, 6) || val(txa, 7), b.options.timeZone);
  const doc: DocumentReference = {
    resourceType: 'DocumentReference',
    status: b.header.triggerEvent === 'T11' ? 'entered-in-error' : 'current',
    subject: patient.ref,
    custodian: org,
    content: forms.map((attachment) => ({ attachment })),
    ...(identifier ? { identifier: [identifier], masterIdentifier: identifier } : {}),
    ...(encounter ? { context: { encounter: [encounter] } } : {}),
  };
  const docStatus = DOC_STATUS[val(txa, 17)];
  if (docStatus) doc.docStatus = docStatus;
  const type = codeableConcept(repAt(txa, 2, 0));
  if (type) doc.type = type;
  if (date && date.length > 10) doc.date = date;
  const author = addPractitioner(b, txa, 9) ?? addPractitioner(b, txa, 5);
  if (author) doc.author = [author];
  if (val(txa, 13)) doc.relatesTo = [{ code: 'replaces', target: { identifier: { value: val(txa, 13) } } }];
  b.put('document', doc, identifier);
  return undefined;
}
