import type { PurposeOfUse, Role } from '../access/context.ts';
import { BULK_EXPORT_SCOPE, QUERY_ROLE_SCOPE } from '../access/scopes.ts';

/** Scopes that carry no data access; any person may ask for them. */
const IDENTITY_SCOPES = ['openid', 'fhirUser', 'profile', 'offline_access', 'online_access', 'launch', 'launch/patient'];

/**
 * The most each role may hold (SMART v2). The access gate still applies relationships, consent and labels on top:
 * a scope is a ceiling, never a grant to a particular record.
 */
const ROLE_SCOPES: Record<Role, string[]> = {
  clinician: ['user/*.rs', 'user/Consent.cru', 'user/DocumentReference.c'],
  'clinical-staff': ['user/*.rs'],
  registrar: ['user/Patient.rs', 'user/Person.rs', 'user/Consent.crus', 'user/Organization.rs'],
  'privacy-officer': ['user/AuditEvent.rs', 'user/Consent.cruds', 'user/Patient.rs', 'user/Person.rs', 'user/Organization.rs', 'user/Practitioner.rs'],
  admin: [
    'user/Organization.cruds', 'user/Practitioner.cruds', 'user/PractitionerRole.cruds', 'user/Endpoint.cruds',
    'user/Patient.rs', 'user/Person.cruds',
  ],
  system: ['system/*.cruds', QUERY_ROLE_SCOPE, BULK_EXPORT_SCOPE],
  patient: ['patient/*.rs', 'patient/Consent.cru'],
};

export function allowedScopes(role: Role): string[] {
  return role === 'system' ? [...ROLE_SCOPES.system] : [...IDENTITY_SCOPES, ...ROLE_SCOPES[role]];
}

export function defaultPurposeOfUse(role: Role): PurposeOfUse {
  switch (role) {
    case 'patient': return 'PATRQT';
    case 'admin': return 'HSYSADMIN';
    case 'privacy-officer':
    case 'registrar': return 'HOPERAT';
    default: return 'TREAT';
  }
}

interface ResourceScope {
  context: 'patient' | 'user' | 'system';
  /** Resource type or `*`, with any `?query` restriction kept verbatim. */
  resource: string;
  perms: string;
}

const V1_PERMS: Record<string, string> = { read: 'rs', write: 'cud', '*': 'cruds' };
const PERM_ORDER = 'cruds';

/** Parses `user/Observation.rs` (v2) or `user/Observation.read` (v1, mapped to v2). */
export function parseScope(scope: string): ResourceScope | undefined {
  const m = /^(patient|user|system)\/([A-Za-z*]+(?:\?[^\s]*)?)\.([a-z*]+)$/.exec(scope);
  if (!m) return undefined;
  const perms = V1_PERMS[m[3]] ?? m[3];
  if (!/^c?r?u?d?s?$/.test(perms) || perms === '') return undefined;
  return { context: m[1] as ResourceScope['context'], resource: m[2], perms };
}

function baseType(resource: string): string {
  return resource.split('?')[0];
}

function intersectOne(req: ResourceScope, allowed: ResourceScope): string | undefined {
  if (req.context !== allowed.context) return undefined;
  const a = baseType(allowed.resource);
  // A query-restricted ceiling is only matched by the very same restriction.
  if (allowed.resource.includes('?') && allowed.resource !== req.resource) return undefined;
  const r = baseType(req.resource);
  if (a !== '*' && r !== '*' && a !== r) return undefined;
  // The narrower of the two resource parts wins: `user/*.rs` ∩ `user/Consent.cru` = `user/Consent.r`.
  const resource = a === '*' ? req.resource : allowed.resource;
  const perms = [...PERM_ORDER].filter((p) => req.perms.includes(p) && allowed.perms.includes(p)).join('');
  return perms ? `${req.context}/${resource}.${perms}` : undefined;
}

/** What the caller asked for, cut down to what every ceiling allows (role, client registration). */
export function intersectScopes(requested: string[], ...ceilings: string[][]): string[] {
  let result = requested;
  for (const ceiling of ceilings) {
    const parsed = ceiling.map(parseScope);
    const next: string[] = [];
    for (const scope of result) {
      const req = parseScope(scope);
      if (!req) {
        if (ceiling.includes(scope)) next.push(scope);
        continue;
      }
      for (const allowed of parsed) {
        const hit = allowed && intersectOne(req, allowed);
        if (hit) next.push(hit);
      }
    }
    result = next;
  }
  return dropSubsumed([...new Set(result)]);
}

/** `a` grants everything `b` does. */
function covers(a: ResourceScope, b: ResourceScope): boolean {
  const sameResource = a.resource === b.resource || (a.resource === '*' && !b.resource.includes('?'));
  return a.context === b.context && sameResource && [...b.perms].every((p) => a.perms.includes(p));
}

/** Removes scopes another granted scope already covers (`user/Consent.r` next to `user/*.rs`). */
function dropSubsumed(scopes: string[]): string[] {
  const parsed = scopes.map(parseScope);
  return scopes.filter((_, i) => {
    const me = parsed[i];
    return !me || !parsed.some((other, j) => j !== i && other && covers(other, me) && !(covers(me, other) && j > i));
  });
}

export function splitScope(scope: string | undefined): string[] {
  return (scope ?? '').split(/\s+/).filter(Boolean);
}
