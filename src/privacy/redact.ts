import type { Identifier, Patient, Person, Resource } from '@medplum/fhirtypes';
import type { AccessContext, Role } from '../access/context.ts';
import { isInternal } from './person-grant.ts';

export { redactDocumentSections, type RedactionResult } from './document-redaction.ts';

export const SSN_SYSTEM = 'http://hl7.org/fhir/sid/us-ssn';

/**
 * Who sees a full SSN: registrars, who verify identity at registration, and Katahdin's internal jobs.
 * Everyone else — administrators (the MPI matches on a keyed hash, not the value), privacy officers,
 * clinicians, systems (they sent it; no echo) and patients themselves — sees the last four digits.
 */
export const FULL_SSN_ROLES: ReadonlySet<Role> = new Set(['registrar']);

export function seesFullSsn(ctx: AccessContext): boolean {
  return FULL_SSN_ROLES.has(ctx.role) || isInternal(ctx);
}

/** `***-**-1234`; fewer than four digits are masked entirely. */
export function maskSsn(value: string): string {
  const digits = value.replace(/\D/g, '');
  return digits.length >= 4 ? `***-**-${digits.slice(-4)}` : '***-**-****';
}

function maskIdentifiers(ids: Identifier[] | undefined): Identifier[] | undefined {
  return ids?.map((id) => (id.system === SSN_SYSTEM && id.value ? { ...id, value: maskSsn(id.value) } : id));
}

/** Masks SSN identifiers (top level and in contained resources) unless the role needs the full value. */
export function redactForRole<T extends Resource>(resource: T, ctx: AccessContext): T {
  if (seesFullSsn(ctx)) return resource;
  const withIds = resource as T & { identifier?: Identifier[]; contained?: Resource[] };
  const out = { ...withIds };
  if (Array.isArray(withIds.identifier)) out.identifier = maskIdentifiers(withIds.identifier);
  if (withIds.contained) out.contained = withIds.contained.map((c) => redactForRole(c, ctx));
  return out;
}

/**
 * What a user without a relationship may see of a person when picking them from search results:
 * name, birth date, sex and city (privacy rules §1). Everything else is dropped.
 */
export function demographicView<T extends Patient | Person>(resource: T): T {
  const cities = (resource.address ?? []).filter((a) => a.city).map((a) => ({ city: a.city }));
  const view = {
    resourceType: resource.resourceType,
    id: resource.id,
    ...(resource.meta ? { meta: { versionId: resource.meta.versionId, lastUpdated: resource.meta.lastUpdated } } : {}),
    ...(resource.name ? { name: resource.name } : {}),
    ...(resource.birthDate ? { birthDate: resource.birthDate } : {}),
    ...(resource.gender ? { gender: resource.gender } : {}),
    ...(cities.length ? { address: cities } : {}),
  };
  return view as T;
}
