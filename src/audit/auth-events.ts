import type { AccessContext, Role } from '../access/context.ts';
import type { AuthAuditEvent } from '../auth/audit-hook.ts';
import type { Queryable } from '../store/database.ts';
import { appendAudit } from './chain.ts';
import { accountRef } from './events.ts';
import type { AuditAction } from './types.ts';

const ACTION: Record<AuthAuditEvent['type'], AuditAction> = {
  login: 'login', 'login-failed': 'login-failed', token: 'token', logout: 'logout', signup: 'login', revoke: 'revoke',
};

/** Sign-ins, failed sign-ins, token issuance, logouts, revocations and portal sign-ups, chained into the audit log. */
export async function auditAuthEvent(tx: Queryable, e: AuthAuditEvent): Promise<void> {
  const user = e.userId
    ? (await tx.query<{ display_name: string; role: Role; organization_id: string | null }>('select display_name, role, organization_id from users where id = $1', [e.userId])).rows[0]
    : undefined;
  const ctx: AccessContext = {
    userId: e.userId,
    clientId: e.clientId,
    displayName: user?.display_name ?? e.username ?? e.clientId ?? 'unknown user',
    role: user?.role ?? 'system',
    organizationId: user?.organization_id ?? undefined,
    scopes: [],
    purposeOfUse: 'HSYSADMIN',
    sourceIp: e.sourceIp,
  };
  await appendAudit(tx, {
    ctx,
    action: e.type === 'login' && e.outcome === 'failure' ? 'login-failed' : ACTION[e.type],
    outcome: e.outcome === 'success' ? 'success' : 'denied',
    personIds: [],
    resources: e.account ? [accountRef(e.account.kind, e.account.id)] : [],
    detail: e.detail,
  });
}
