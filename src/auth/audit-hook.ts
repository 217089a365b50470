import type { Queryable } from '../store/database.ts';

/** A user or OAuth client, as an act on accounts or tokens names the one it was done to. */
export interface Account {
  kind: 'user' | 'client';
  id: string;
}

/**
 * What auth tells the audit log. `username` is only set for accounts that exist, so a password typed into the
 * username box never reaches the log; `detail` is a short fixed code, never free text. `userId` and `clientId` name who
 * acted; `account`, whose session or token a logout or revocation ended (or would have).
 */
export interface AuthAuditEvent {
  type: 'login' | 'login-failed' | 'token' | 'logout' | 'signup' | 'revoke';
  outcome: 'success' | 'failure';
  username?: string;
  userId?: string;
  clientId?: string;
  account?: Account;
  sourceIp: string;
  detail?: AuthAuditDetail;
}

export type AuthAuditDetail =
  | 'unknown-user' | 'bad-password' | 'bad-totp' | 'locked' | 'disabled' | 'mfa-enrolled'
  | 'authorization_code' | 'refresh_token' | 'client_credentials'
  | 'invalid-client' | 'invalid-grant' | 'refresh-reused' | 'code-replayed'
  | 'signup-started' | 'signup-completed' | 'signup-bad-code'
  | 'session' | 'access-token' | 'other-client';

/** Called inside the transaction of the change it describes; if it throws, that change rolls back. */
export type AuthAuditHook = (tx: Queryable, event: AuthAuditEvent) => Promise<void>;
