import { randomUUID } from 'node:crypto';
import type { Role } from '../access/context.ts';
import { run, type Queryable } from '../store/database.ts';
import { sql } from '../store/sql.ts';

/** Roles a person can hold (`system` belongs to clients). */
export type UserRole = Exclude<Role, 'system'>;
export const USER_ROLES: readonly UserRole[] = ['clinician', 'clinical-staff', 'registrar', 'privacy-officer', 'admin', 'patient'];

/** Roles that must use a second factor (privacy rules §7). */
export const MFA_ROLES: readonly UserRole[] = ['admin', 'privacy-officer'];

export interface User {
  id: string;
  username: string;
  displayName: string;
  role: UserRole;
  organizationId?: string;
  practitionerId?: string;
  personId?: string;
  passwordHash: string;
  totpSecret?: string;
  totpEnrolled: boolean;
  totpLastStep?: number;
  mfaRequired: boolean;
  failedLogins: number;
  lockedUntil?: Date;
  disabled: boolean;
  createdAt: Date;
}

/** What listings show: never the hashes or secrets. */
export type UserSummary = Omit<User, 'passwordHash' | 'totpSecret' | 'totpLastStep'>;

interface UserRow {
  id: string;
  username: string;
  display_name: string;
  role: UserRole;
  organization_id: string | null;
  practitioner_id: string | null;
  person_id: string | null;
  password_hash: string;
  totp_secret: string | null;
  totp_enrolled: boolean;
  totp_last_step: string | number | null;
  mfa_required: boolean;
  failed_logins: number;
  locked_until: Date | string | null;
  disabled: boolean;
  created_at: Date | string;
}

function toUser(r: UserRow): User {
  return {
    id: r.id,
    username: r.username,
    displayName: r.display_name,
    role: r.role,
    organizationId: r.organization_id ?? undefined,
    practitionerId: r.practitioner_id ?? undefined,
    personId: r.person_id ?? undefined,
    passwordHash: r.password_hash,
    totpSecret: r.totp_secret ?? undefined,
    totpEnrolled: r.totp_enrolled,
    totpLastStep: r.totp_last_step === null ? undefined : Number(r.totp_last_step),
    mfaRequired: r.mfa_required,
    failedLogins: r.failed_logins,
    lockedUntil: r.locked_until === null ? undefined : new Date(r.locked_until),
    disabled: r.disabled,
    createdAt: new Date(r.created_at),
  };
}

export function summarize(u: User): UserSummary {
  const { passwordHash: _p, totpSecret: _t, totpLastStep: _s, ...rest } = u;
  return rest;
}

export interface NewUserRow {
  username: string;
  displayName: string;
  role: UserRole;
  passwordHash: string;
  organizationId?: string;
  practitionerId?: string;
  personId?: string;
  mfaRequired: boolean;
}

export async function insertUser(db: Queryable, u: NewUserRow): Promise<User> {
  const rows = await run<UserRow>(db, sql`insert into users
    (id, username, display_name, role, organization_id, practitioner_id, person_id, password_hash, mfa_required)
    values (${randomUUID()}, ${u.username}, ${u.displayName}, ${u.role}, ${u.organizationId ?? null},
      ${u.practitionerId ?? null}, ${u.personId ?? null}, ${u.passwordHash}, ${u.mfaRequired})
    returning *`);
  return toUser(rows[0]);
}

export async function findUserByUsername(db: Queryable, username: string): Promise<User | undefined> {
  const rows = await run<UserRow>(db, sql`select * from users where username = ${username}`);
  return rows[0] ? toUser(rows[0]) : undefined;
}

export async function findUserById(db: Queryable, id: string): Promise<User | undefined> {
  const rows = await run<UserRow>(db, sql`select * from users where id = ${id}`);
  return rows[0] ? toUser(rows[0]) : undefined;
}

export async function listUsers(db: Queryable): Promise<UserSummary[]> {
  return (await run<UserRow>(db, sql`select * from users order by username`)).map((r) => summarize(toUser(r)));
}

export function isLocked(u: User, now = new Date()): boolean {
  return u.lockedUntil !== undefined && u.lockedUntil > now;
}

/** Counts a failure; at `maxFailures` the account locks for `lockoutMinutes` and the counter restarts. Returns whether it locked. */
export async function recordLoginFailure(
  db: Queryable,
  userId: string,
  maxFailures: number,
  lockoutMinutes: number,
): Promise<boolean> {
  const rows = await run<{ locked: boolean }>(db, sql`update users set
      failed_logins = case when failed_logins + 1 >= ${maxFailures} then 0 else failed_logins + 1 end,
      locked_until = case when failed_logins + 1 >= ${maxFailures}
        then now() + make_interval(mins => ${lockoutMinutes}::int) else locked_until end
    where id = ${userId}
    returning locked_until is not null and locked_until > now() as locked`);
  return rows[0]?.locked ?? false;
}

export async function recordLoginSuccess(db: Queryable, userId: string): Promise<void> {
  await run(db, sql`update users set failed_logins = 0, locked_until = null where id = ${userId}`);
}

export async function setUserDisabled(db: Queryable, username: string, disabled: boolean): Promise<boolean> {
  const rows = await run(db, sql`update users set disabled = ${disabled} where username = ${username} returning id`);
  return rows.length > 0;
}

/** Stores an (encrypted) TOTP secret; `enrolled` false means a forced enrolment awaits its first code. */
export async function setTotpSecret(db: Queryable, userId: string, encryptedSecret: string, enrolled: boolean): Promise<void> {
  await run(db, sql`update users set totp_secret = ${encryptedSecret}, totp_enrolled = ${enrolled}, totp_last_step = null
    where id = ${userId}`);
}

export async function acceptTotpStep(db: Queryable, userId: string, step: number): Promise<void> {
  await run(db, sql`update users set totp_last_step = ${step}, totp_enrolled = true where id = ${userId}`);
}

export async function setPasswordHash(db: Queryable, username: string, passwordHash: string): Promise<boolean> {
  const rows = await run(db, sql`update users set password_hash = ${passwordHash} where username = ${username} returning id`);
  return rows.length > 0;
}
