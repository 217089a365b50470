import type { ServiceRequest} from '@medplum/fhirtypes';
import { repAt, val } from '../fields.ts';
import type { Hl7Error } from '../types.ts';
import type { BundleBuilder, Ref } from './context.ts';
import { hl7ToFhirDateTime } from './datetime.ts';
import { codeableConcept } from './datatypes.ts';
import { addPatient, addPractitioner, derivedIdentifier, isError } from './common.ts';
import { addVisitReference } from './encounter.ts';
import { groupIdentifiers, orderGroups } from './oru.ts';

const STATUS: Record<string, ServiceRequest['status']> = { NW: 'active', SC: 'active', IP: 'active', CM: 'completed', CA: 'revoked', DC: 'revoked', OC: 'revoked', HD: 'on-hold', ER: 'entered-in-error' };

/** ORM^O01 / OML^O21 → ServiceRequest per OBR, upserted on the placer number (the orderer owns it). */
export function mapOrder(b: BundleBuilder, org: Ref): Hl7Error | undefined {
  const msg = b.parsed.message;
  const patient = addPatient(b, msg.getSegment('PID'), org);
  if (isError(patient)) return patient;
  const encounter = addVisitReference(b, patient, org);
  for (const g of orderGroups(msg.segments)) {
    const ids = groupIdentifiers(g, b.header.facilityKey);
    const placer = ids.find((i) => i.type?.coding?.[0]?.code === 'PLAC') ?? ids[0];
    const code = codeableConcept(repAt(g.obr, 4, 0)) ?? { text: 'unknown' };
    const identifier = placer ?? derivedIdentifier(b, 'service-request', patient, code.coding?.[0]?.code ?? '', String(g.index));
    const sr: ServiceRequest = {
      resourceType: 'ServiceRequest',
      identifier: ids.length ? ids : [identifier],
      status: STATUS[val(g.orc ?? g.obr, 5)] ?? STATUS[g.orc ? val(g.orc, 1) : ''] ?? 'active',
      intent: 'order',
      code,
      subject: patient.ref,
      ...(encounter ? { encounter } : {}),
    };
    const authored = hl7ToFhirDateTime((g.orc && val(g.orc, 9)) || val(g.obr, 6) || val(g.obr, 7), b.options.timeZone);
    if (authored && authored.length > 10) sr.authoredOn = authored;
    const requester = addPractitioner(b, g.obr, 16) ?? (g.orc ? addPractitioner(b, g.orc, 12) : undefined);
    if (requester) sr.requester = requester;
    if (val(g.obr, 5) === 'S') sr.priority = 'stat';
    b.put(`service-request:${g.index}`, sr, identifier);
  }
  return undefined;
}
