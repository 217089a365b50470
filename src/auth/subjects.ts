import type { Client } from './clients.ts';
import { allowedScopes, defaultPurposeOfUse, intersectScopes } from './scopes.ts';
import type { TokenSubject } from './tokens.ts';
import type { User } from './users.ts';

/**
 * What a token may say about its bearer: pure functions of the account and the client. Scopes are what was
 * requested (or, when nothing was, everything) cut down to the role's ceiling and the client's registration.
 */
export function subjectForUser(user: User, client: Client, requested: string[] | undefined, sessionId?: string): TokenSubject {
  const ceiling = allowedScopes(user.role);
  return {
    sub: user.id,
    userId: user.id,
    username: user.username,
    displayName: user.displayName,
    role: user.role,
    organizationId: user.organizationId,
    practitionerId: user.practitionerId,
    personId: user.personId,
    clientId: client.clientId,
    scopes: intersectScopes(requested ?? ceiling, ceiling, client.scopes),
    purposeOfUse: defaultPurposeOfUse(user.role),
    sessionId,
  };
}

export function subjectForClient(client: Client, requested: string[] | undefined): TokenSubject {
  return {
    sub: client.clientId,
    displayName: client.name,
    role: 'system',
    organizationId: client.organizationId,
    clientId: client.clientId,
    scopes: intersectScopes(requested ?? client.scopes, allowedScopes('system'), client.scopes),
    purposeOfUse: defaultPurposeOfUse('system'),
  };
}

/** `fhirUser` for id_tokens: the Practitioner a clinician is, or the Person a patient is. */
export function fhirUserOf(user: User, publicUrl: string): string | undefined {
  if (user.practitionerId) return `${publicUrl}/fhir/Practitioner/${user.practitionerId}`;
  if (user.personId) return `${publicUrl}/fhir/Person/${user.personId}`;
  return undefined;
}
