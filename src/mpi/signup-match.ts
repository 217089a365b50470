import { systemContext } from '../access/context.ts';
import type { SignupDemographics } from '../auth/portal-signup.ts';
import type { Services } from '../services.ts';

/**
 * Portal identity check: the person whose records match the sign-up demographics with certainty (an auto-link
 * grade match on name, birth date and postal code). Anything less is no match: a code must never reach a stranger.
 */
export async function findPersonForSignup(s: Services, d: SignupDemographics): Promise<string | undefined> {
  return s.gate.run(systemContext('portal sign-up identity check'), { action: 'match', query: 'portal sign-up' }, async (scope) => {
    const candidates = await s.links.candidates(scope, { id: 'signup', given: [d.given], family: d.family, birthDate: d.birthDate, postalCode: d.postalCode });
    const certain = candidates.filter((c) => c.record.birthDate === d.birthDate && c.decision.decision === 'auto-link');
    const persons = new Set(certain.map((c) => c.personId));
    return persons.size === 1 ? [...persons][0] : undefined;
  });
}
