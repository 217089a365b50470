import type { Queryable } from '../store/database.ts';
import type { Account, AuthAuditEvent } from './audit-hook.ts';
import type { AuthService } from './auth-service.ts';
import { endSession, refreshTokenOwner, revokeAccessToken } from './sessions.ts';
import { identifyClient, inTransaction, OAuthError, type TokenDeps, type TokenForm } from './token-endpoint.ts';
import type { VerifiedContext } from './tokens.ts';

/** Whom a refresh or access token of ours was issued to, and what revoking it ends. */
export interface TokenOwner {
  clientId: string;
  userId?: string;
  sessionId?: string;
  /** An access token's id and expiry: what revokes it when it has no session. */
  accessToken?: { id: string; expiresAt: Date };
}

/**
 * The owner of a refresh or access token of ours; undefined for anything else. `hint` (RFC 7009 `token_type_hint`)
 * only decides which kind is looked for first. Access tokens are checked for signature and expiry only, so one whose
 * session has already ended still names it.
 */
export async function tokenOwner(auth: AuthService, db: Queryable, token: string, hint?: string): Promise<TokenOwner | undefined> {
  const asRefresh = () => refreshTokenOwner(db, token);
  const asAccess = async (): Promise<TokenOwner | undefined> => {
    const ctx = await auth.tokens.verify(token).catch(() => undefined);
    return ctx && {
      clientId: ctx.clientId ?? '', userId: ctx.userId, sessionId: ctx.sessionId, accessToken: { id: ctx.tokenId, expiresAt: ctx.expiresAt },
    };
  };
  const [first, then] = hint === 'access_token' ? [asAccess, asRefresh] : [asRefresh, asAccess];
  return (await first()) ?? then();
}

/** The account a token's revocation affects: its user, or the client for a system token. */
export function accountOf(owner: TokenOwner): Account {
  return owner.userId ? { kind: 'user', id: owner.userId } : { kind: 'client', id: owner.clientId };
}

/**
 * RFC 7009 revocation. The client authenticates as at the token endpoint and may revoke the tokens issued to it; an
 * administrator, who also sends their own access token (`caller`), anyone's (a leaked token, without disabling its
 * client). A token of a login session ends the session, every token of the grant; an access token without one is
 * refused until it expires. Unknown and expired tokens are answered as revoked (200) and leave nothing to audit; a
 * revocation and a refusal are audited in the transaction that makes them.
 */
export async function revokeToken(deps: TokenDeps, form: TokenForm, caller: VerifiedContext | undefined, sourceIp: string): Promise<void> {
  const token = form.token;
  if (!token) throw new OAuthError('invalid_request', 'token is required');
  await inTransaction(deps, async (tx, onCommit) => {
    const audit = (e: Omit<AuthAuditEvent, 'type' | 'sourceIp'>) => deps.audit?.(tx, { type: 'revoke', sourceIp, ...e });
    const client = await identifyClient(tx, deps, form).catch(async (err: unknown) => {
      if (err instanceof OAuthError) await audit({ outcome: 'failure', userId: caller?.userId, clientId: caller?.clientId, detail: 'invalid-client' });
      throw err;
    });
    const owner = await tokenOwner(deps.auth, tx, token, form.token_type_hint);
    if (!owner) return;
    const own = owner.clientId === client.clientId;
    // Who acted: the signed-in caller (an administrator, typically); else the client, for the token's user when it is its own.
    const actor = caller ? { userId: caller.userId, clientId: caller.clientId } : { userId: own ? owner.userId : undefined, clientId: client.clientId };
    const account = accountOf(owner);
    if (!own && caller?.role !== 'admin') {
      await audit({ outcome: 'failure', ...actor, account, detail: 'other-client' });
      throw new OAuthError('invalid_grant', 'the token was issued to another client');
    }
    if (owner.sessionId) {
      const sessionId = owner.sessionId;
      await endSession(tx, sessionId);
      onCommit(() => deps.auth.sessionEnded(sessionId));
    } else if (owner.accessToken) {
      const { id, expiresAt } = owner.accessToken;
      await revokeAccessToken(tx, id, expiresAt);
      onCommit(() => deps.auth.accessTokenRevoked(id));
    }
    await audit({ outcome: 'success', ...actor, account, detail: owner.sessionId ? 'session' : 'access-token' });
  });
}
