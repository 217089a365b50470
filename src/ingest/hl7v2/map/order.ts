import type { ServiceRequest} from '@medplum/fhirtypes';
import { repAt, val } from '../fields.ts';
import type { Hl7Error } from '../types.ts';
import type { BundleBuilder, Ref } from './context.ts';
import { hl7ToFhirDateTime } from './datetime.ts';
import { codeableConcept } from './datatypes.ts';
import { addPatient, addPractitioner, derivedIdentifier, isError } from './common.ts';
import { addVisitReference } from './encounter.ts';
import { groupIdentifiers, orderGroups, orderItems } from './oru.ts';
import { itemIdentifier } from './item-keys.ts';

const STATUS: Record<string, ServiceRequest['status']> = { NW: 'active', SC: 'active', IP: 'active', CM: 'completed', CA: 'revoked', DC: 'revoked', OC: 'revoked', HD: 'on-hold', ER: 'entered-in-error' };

/** ORM^O01 / OML^O21 → ServiceRequest per OBR, upserted on the placer number (the orderer owns it) + the OBR's item. */
export function mapOrder(b: BundleBuilder, org: Ref): Hl7Error | undefined {
  const msg = b.parsed.message;
  const patient = addPatient(b, msg.getSegment('PID'), org);
  if (isError(patient)) return patient;
  const encounter = addVisitReference(b, patient, org);
  const groups = orderGroups(msg.segments);
  const placers = groups.map((g) => {
    const ids = groupIdentifiers(g, b.header.facilityKey);
    return ids.find((i) => i.type?.coding?.[0]?.code === 'PLAC') ?? ids[0];
  });
  const items = orderItems(groups, placers);
  for (const [i, g] of groups.entries()) {
    const ids = groupIdentifiers(g, b.header.facilityKey);
    const code = codeableConcept(repAt(g.obr, 4, 0)) ?? { text: 'unknown' };
    const key = itemIdentifier(placers[i], 'order', items[i]);
    const identifier = key ?? derivedIdentifier(b, 'service-request', patient, code.coding?.[0]?.code ?? '', String(g.index));
    const sr: ServiceRequest = {
      resourceType: 'ServiceRequest',
      identifier: [...ids, identifier],
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
