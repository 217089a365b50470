import { randomUUID } from 'node:crypto';
import { run } from '../store/database.ts';
import { sql } from '../store/sql.ts';
import type { Role } from './context.ts';
import type { GateScope } from './gate-scope.ts';
import { forbidden } from '../fhir/outcome.ts';

export interface Grant {
  id: string;
  expiresAt: string;
}

/** The calling user, when their role is one of `roles`; 403 otherwise. */
function requireUser(scope: GateScope, roles: Role[], refusal: string): string {
  const { role, userId } = scope.ctx;
  if (!roles.includes(role) || !userId) throw forbidden(refusal);
  return userId;
}

/** A user's attestation of a treatment relationship with a person (privacy-rules §1): audited, time-limited. */
export async function attest(scope: GateScope, personId: string, reason: string, days: number): Promise<Grant> {
  const userId = requireUser(scope, ['clinician', 'clinical-staff'], 'Only clinicians and clinical staff may attest to a treatment relationship.');
  const id = randomUUID();
  const expiresAt = new Date(scope.settings.now.getTime() + days * 86_400_000).toISOString();
  await run(scope.tx, sql`insert into attestations (id, user_id, person_id, reason, created_at, expires_at)
    values (${id}, ${userId}, ${personId}, ${reason}, ${scope.settings.now.toISOString()}, ${expiresAt})`);
  scope.note('attest', [personId], [], { detail: `attestation ${id} until ${expiresAt}` });
  return { id, expiresAt };
}

/** Emergency access to a person's whole record (privacy-rules §5); every access under it is audited as ETREAT. */
export async function breakGlass(scope: GateScope, personId: string, reason: string, hours: number): Promise<Grant> {
  // A clinician declares the emergency (privacy-rules §5, PRIVACY.md §5): clinical staff may attest, not break the glass.
  const userId = requireUser(scope, ['clinician'], 'Only clinicians may break the glass.');
  const id = randomUUID();
  const expiresAt = new Date(scope.settings.now.getTime() + hours * 3_600_000).toISOString();
  await run(scope.tx, sql`insert into break_glass (id, user_id, organization_id, person_id, reason, created_at, expires_at)
    values (${id}, ${userId}, ${scope.ctx.organizationId ?? null}, ${personId}, ${reason}, ${scope.settings.now.toISOString()}, ${expiresAt})`);
  scope.note('break-glass', [personId], [], { detail: `break-the-glass ${id} until ${expiresAt}`, relationship: 'break-glass' });
  return { id, expiresAt };
}

export async function activeBreakGlass(scope: GateScope, personId: string): Promise<Grant | undefined> {
  const rows = await run<{ id: string; expires_at: Date }>(scope.tx, sql`select id, expires_at from break_glass
    where user_id = ${scope.ctx.userId ?? ''} and person_id = ${personId} and expires_at > ${scope.settings.now.toISOString()}
    order by expires_at desc limit 1`);
  return rows[0] ? { id: rows[0].id, expiresAt: new Date(rows[0].expires_at).toISOString() } : undefined;
}
