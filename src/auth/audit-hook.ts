import type { Queryable } from '../store/database.ts';

/**
 * What auth tells the audit log. `username` is only set for accounts that exist, so a password typed into the
 * username box never reaches the log; `detail` is a short fixed code, never free text.
 */
export interface AuthAuditEvent {
  type: 'login' | 'login-failed' | 'token' | 'logout' | 'signup';
  outcome: 'success' | 'failure';
  username?: string;
  userId?: string;
  clientId?: string;
  sourceIp: string;
  detail?: AuthAuditDetail;
}

export type AuthAuditDetail =
  | 'unknown-user' | 'bad-password' | 'bad-totp' | 'locked' | 'disabled' | 'mfa-enrolled'
  | 'authorization_code' | 'refresh_token' | 'client_credentials'
  | 'invalid-client' | 'invalid-grant' | 'refresh-reused' | 'code-replayed'
  | 'signup-started' | 'signup-completed' | 'signup-bad-code';

/** Called inside the transaction of the change it describes; if it throws, that change rolls back. */
export type AuthAuditHook = (tx: Queryable, event: AuthAuditEvent) => Promise<void>;
