import { systemContext } from '../../access/context.ts';
import { escapeSearchValue } from '../../fhir/search-token.ts';
import type { Services } from '../../services.ts';
import { matchIdentifier, patientIdentifiers } from './map/common.ts';
import type { ParsedMessage } from './types.ts';

/**
 * Source Patients already stored under a message's PID-3 identifiers. A message that failed wrote nothing, yet its
 * body holds the person's health information: filed under their persons, the opt-out purge clears it (§2).
 */
export async function storedPatientsOf(s: Services, parsed: ParsedMessage): Promise<string[]> {
  const keys = parsed.message.getAllSegments('PID').flatMap((pid) => {
    const id = matchIdentifier(patientIdentifiers(pid, parsed.header.facilityKey));
    return id?.value ? [`${id.system ?? ''}|${escapeSearchValue(id.value)}`] : [];
  });
  if (keys.length === 0) return [];
  return s.gate.run(systemContext('inbox filing'), { action: 'read', query: 'patients of a failed message' }, async (scope) => {
    const found = await scope.searchMany(keys.map((key) => ({ type: 'Patient', query: [['identifier', key], ['_total', 'none']] as Array<[string, string]> })));
    return [...new Set(found.flat().flatMap((p) => p.id ?? []))];
  });
}
