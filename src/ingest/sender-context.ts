import type { Organization } from '@medplum/fhirtypes';
import { systemContext, type AccessContext } from '../access/context.ts';
import type { Services } from '../services.ts';

export const FACILITY_SYSTEM = 'urn:katahdin:facility';

/**
 * The context a feed writes under: a system acting for the sending organization (found, or registered on first
 * contact, by its facility identifier). Everything it stores carries that organization as its source.
 */
export async function senderContext(s: Services, facility: string, channel: string): Promise<AccessContext> {
  const org = await s.gate.run(systemContext('feed registration'), { action: 'read', query: 'sending organization' }, async (scope) => {
    const found = await scope.searchType('Organization', [['identifier', `${FACILITY_SYSTEM}|${facility}`]], false);
    if (found.matches[0]) return found.matches[0] as Organization;
    const created = await s.records.create(scope, { resourceType: 'Organization', name: facility, identifier: [{ system: FACILITY_SYSTEM, value: facility }], active: true });
    return created.resource as Organization;
  });
  return {
    clientId: `${channel}:${facility}`,
    displayName: `${org.name ?? facility} (${channel} feed)`,
    role: 'system',
    organizationId: org.id,
    scopes: ['system/*.cruds'],
    purposeOfUse: 'TREAT',
  };
}
