import type { Consent, Resource } from '@medplum/fhirtypes';
import { fhirError, forbidden } from '../fhir/outcome.ts';
import { isPrivacyChoice } from '../privacy/consent.ts';
import type { AccessContext, Role } from './context.ts';
import type { Interaction } from './scopes.ts';
import { scopeAllows } from './scopes.ts';

/** Derived by the server: the MPI's Person, the audit log. */
const SERVER_OWNED = ['Person', 'AuditEvent'];

/**
 * Resource types a role may write at all; clinical writes also need the person in the caller's care. Subscriptions
 * are made by systems (an EHR subscribing for its organization), whose standing decides what each notification carries.
 */
const WRITABLE: Record<Role, (type: string) => boolean> = {
  system: () => true,
  clinician: (t) => !['Consent', 'Person', 'Subscription'].includes(t),
  'clinical-staff': (t) => !['Consent', 'Person', 'Subscription'].includes(t),
  registrar: (t) => ['Patient', 'Consent', 'RelatedPerson', 'Coverage'].includes(t),
  'privacy-officer': (t) => t === 'Consent',
  admin: (t) => ['Organization', 'Practitioner', 'PractitionerRole', 'Location', 'Endpoint', 'HealthcareService'].includes(t),
  patient: () => false,
};

export type WriteInteraction = Extract<Interaction, 'c' | 'u' | 'd'>;

const WRITE_VERBS: Record<WriteInteraction, string> = { c: 'creating', u: 'updating', d: 'deleting' };

/** Scope check for a read or search; what rows may leave is decided by the privacy filter afterwards. */
export function authorizeRead(ctx: AccessContext, type: string, interaction: Interaction = 'r'): void {
  if (ctx.internal) return;
  const checkType = type === '*' ? 'Patient' : type;
  if (!scopeAllows(ctx.scopes, checkType, interaction) && !scopeAllows(ctx.scopes, checkType, interaction === 's' ? 'r' : 's')) {
    throw forbidden(`Your access token's scopes do not allow ${interaction === 's' ? 'searching' : 'reading'} ${type}.`);
  }
}

/**
 * The scope check alone, for operations that write on the caller's behalf under their own role rules (`$consent`
 * records a Consent as a derived write). Each interaction needs its own permission (SMART v2): `.c` does not let a
 * token change or delete what it created, and `patient/Patient.rs` does not let an app record an opt-out.
 */
export function authorizeWriteScope(ctx: AccessContext, type: string, interaction: WriteInteraction): void {
  if (ctx.internal) return;
  if (!scopeAllows(ctx.scopes, type, interaction)) {
    throw forbidden(`Your access token's scopes do not allow ${WRITE_VERBS[interaction]} ${type}.`);
  }
}

/**
 * Role, scope and tenant checks for a create (`c`), update (`u`) or delete (`d`); `content` is the resource as
 * written, or as stored when an existing one is changed or deleted. A submitting system may send Consents of its own
 * (treatment, research), but never a patient's privacy choice (privacy-rules §2–§4): its opt-out would purge every
 * source's data and its share would open sensitive categories to every treating clinician. Nobody writes a privacy choice directly: it is
 * recorded by `$consent` (a derived write, not checked here) and kept as it was recorded.
 */
export function authorizeWrite(
  ctx: AccessContext,
  type: string,
  target: { sourceOrg: string | null; personId: string | null; content?: Resource },
  interaction: WriteInteraction,
): void {
  if (ctx.internal) return;
  if (SERVER_OWNED.includes(type)) throw forbidden(`${type} resources are maintained by Katahdin itself (the MPI and the audit log), not written through the API.`);
  if (!WRITABLE[ctx.role](type)) throw forbidden(`The ${ctx.role} role may not write ${type} resources.`);
  if (target.content?.resourceType === 'Consent' && isPrivacyChoice(target.content as Consent)) {
    if (ctx.role === 'system') throw forbidden('A patient\'s privacy choices are recorded by the patient, a registrar or a privacy officer, not by a submitting system.');
    // Only $consent checks a choice's date and channel; and the person's privacy state (and any purge) follows from
    // the choices recorded, so changing or deleting one would rewrite the patient's decisions after the fact.
    throw fhirError(422, 'business-rule', 'A patient\'s privacy choices are recorded with POST /fhir/Patient/{id}/$consent (action, channel, date), '
      + 'not written as Consent resources, and a recorded choice is never changed or deleted: record a new choice instead (a withdrawal or correction is a new choice).');
  }
  authorizeWriteScope(ctx, type, interaction);
  if (ctx.role === 'system' && target.sourceOrg !== null && target.sourceOrg !== ctx.organizationId) {
    throw forbidden('A submitting system may only write data for its own organization.');
  }
}
