import type { Organization } from '@medplum/fhirtypes';
import { systemContext, type AccessContext } from '../access/context.ts';
import { encodedIdentifierToken, escapeSearchValue } from '../fhir/search-token.ts';
import type { Services } from '../services.ts';
import { conditionalKey, lockKeys } from '../record/conditional-locks.ts';
import { isRefusedSender } from './certificate-facilities.ts';
import { FACILITY_SYSTEM } from './hl7v2/map/context.ts';

export { FACILITY_SYSTEM };

/** Per database: facility → its Organization once registered (saves a transaction per message; ids never change). */
const registry = new WeakMap<object, Map<string, Organization>>();

/**
 * The context a feed writes under: a system acting for the sending organization (found by its facility identifier,
 * or registered on first contact when `register`; else undefined). Everything it stores carries that organization as
 * its source.
 */
export async function senderContext(s: Services, facility: string, channel: string, register = true): Promise<AccessContext | undefined> {
  const registered = registry.get(s.db) ?? new Map<string, Organization>();
  registry.set(s.db, registered);
  const known = registered.get(facility);
  if (known) return contextFor(known, facility, channel);
  const org = await s.gate.run(systemContext('feed registration'), { action: 'read', query: 'sending organization' }, async (scope) => {
    // Same lock key as the mapper's source Organization entry: parallel first messages register it once.
    await lockKeys(scope.tx, [conditionalKey('Organization', `identifier=${encodedIdentifierToken({ system: FACILITY_SYSTEM, value: facility })}`)]);
    const found = await scope.searchType('Organization', [['identifier', `${FACILITY_SYSTEM}|${escapeSearchValue(facility)}`]], false);
    if (found.matches[0]) return found.matches[0] as Organization;
    if (!register) return undefined;
    const created = await s.records.create(scope, { resourceType: 'Organization', name: facility, identifier: [{ system: FACILITY_SYSTEM, value: facility }], active: true });
    return created.resource as Organization;
  });
  if (!org) return undefined;
  registered.set(facility, org);
  return contextFor(org, facility, channel);
}

function contextFor(org: Organization, facility: string, channel: string): AccessContext {
  return {
    clientId: `${channel}:${facility}`,
    displayName: `${org.name ?? facility} (${channel} feed)`,
    role: 'system',
    organizationId: org.id,
    scopes: ['system/*.cruds'],
    purposeOfUse: 'TREAT',
  };
}

/**
 * Inbox sender of an authenticated submission (HTTP, C-CDA upload): the client's organization, not what the message
 * says about itself, so two organizations reusing an application name and control id never collide.
 */
export function submitterKey(ctx: AccessContext): string {
  return ctx.organizationId ? `org:${ctx.organizationId}` : `client:${ctx.clientId ?? 'internal'}`;
}

/** Whether an inbox sender is an authenticated submitter's key (rather than an MLLP or import facility). */
export function isSubmitterKey(sender: string): boolean {
  return sender.startsWith('org:') || sender.startsWith('client:');
}

const RESERVED = 'reserved-name:';

/**
 * Inbox sender of a feed that names itself (MLLP, import): its facility. A facility named like another kind of
 * sender (`org:…`, `client:…`, a refused certificate's key) would act as that authenticated submitter and take its
 * control ids (the inbox de-duplicates on sender and control id), so it is kept apart and refused (`isReservedName`).
 */
export function feedSender(facility: string): string {
  return isSubmitterKey(facility) || facility.startsWith(RESERVED) || isRefusedSender(facility) ? `${RESERVED}${facility}` : facility;
}

export function isReservedName(sender: string): boolean {
  return sender.startsWith(RESERVED);
}

/** The context a stored submission is reprocessed under (crash recovery, retry): a system acting for its organization. */
export function submitterContext(sender: string, channel: string): AccessContext {
  const organizationId = sender.startsWith('org:') ? sender.slice(4) : undefined;
  return { clientId: `${channel}:${sender}`, displayName: `${channel} feed (reprocessing)`, role: 'system', organizationId, scopes: ['system/*.cruds'], purposeOfUse: 'TREAT' };
}
