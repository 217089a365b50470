/** The `$consent-status` / `$consent` answer (FHIR Parameters) as the pages use it. Pure, so tests check it against the server's. */
import type { Parameters } from '@medplum/fhirtypes';
import { paramBool, paramCodes, paramString } from './parameters.ts';
import type { ConsentStatus, SensitiveCategory } from './types.ts';

export function toConsentStatus(p: Parameters): ConsentStatus {
  return {
    optedOut: paramBool(p, 'optedOut') ?? false,
    optedOutAt: paramString(p, 'optedOutAt'),
    optInDate: paramString(p, 'optInDate'),
    shared: paramCodes(p, 'shared') as SensitiveCategory[],
  };
}
