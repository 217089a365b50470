-- Authentication: people, system clients, OAuth codes, refresh tokens and login sessions.
-- The JWT signing key and the data-encryption keys live outside the database, in <dataDir>/keys/.
-- Every secret is stored hashed (codes, refresh tokens, passwords) or encrypted (TOTP secrets).
create table users (
  id text primary key,
  username text not null unique,
  display_name text not null,
  role text not null check (role in ('clinician', 'clinical-staff', 'registrar', 'privacy-officer', 'admin', 'patient')),
  organization_id text,
  practitioner_id text,
  person_id text,
  password_hash text not null,
  -- field-crypto ciphertext (kid:iv:tag:data); totp_enrolled is false while a forced enrolment is pending
  totp_secret text,
  totp_enrolled boolean not null default false,
  -- last accepted TOTP time step, so a code cannot be replayed within its window
  totp_last_step bigint,
  mfa_required boolean not null default false,
  failed_logins integer not null default 0,
  locked_until timestamptz,
  disabled boolean not null default false,
  created_at timestamptz not null default now(),
  check (role <> 'patient' or person_id is not null)
);
create unique index users_patient_person on users (person_id) where role = 'patient';

-- Registered applications: system clients (private_key_jwt against a registered JWKS) and public web apps (PKCE).
create table oauth_clients (
  client_id text primary key,
  name text not null,
  organization_id text,
  scopes text[] not null,
  jwks jsonb,
  redirect_uris text[] not null default '{}',
  public boolean not null default false,
  disabled boolean not null default false,
  created_at timestamptz not null default now()
);

-- A signed-in browser session; refresh tokens hang off it, logout ends it, idleness expires it.
create table login_sessions (
  id text primary key,
  user_id text not null references users (id),
  client_id text not null references oauth_clients (client_id),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  ended_at timestamptz
);
create index login_sessions_user on login_sessions (user_id);

create table oauth_codes (
  code_hash text primary key,
  client_id text not null references oauth_clients (client_id),
  user_id text not null references users (id),
  session_id text not null references login_sessions (id),
  redirect_uri text not null,
  scopes text[] not null,
  code_challenge text not null,
  expires_at timestamptz not null,
  used_at timestamptz,
  -- refresh-token family minted from this code, revoked if the code is replayed
  family_id text
);

create table refresh_tokens (
  token_hash text primary key,
  family_id text not null,
  session_id text not null references login_sessions (id),
  user_id text not null references users (id),
  client_id text not null references oauth_clients (client_id),
  scopes text[] not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  rotated_at timestamptz,
  revoked_at timestamptz
);
create index refresh_tokens_family on refresh_tokens (family_id);
create index refresh_tokens_session on refresh_tokens (session_id);

-- jti of every accepted client assertion until it expires (replay protection for private_key_jwt).
create table client_assertion_jtis (
  client_id text not null,
  jti text not null,
  expires_at timestamptz not null,
  primary key (client_id, jti)
);

-- Pending patient self-registrations. person_id is null when the MPI found no one; the caller is never told.
create table signup_requests (
  username text primary key,
  code_hash text not null,
  person_id text,
  display_name text not null,
  password_hash text not null,
  attempts integer not null default 0,
  expires_at timestamptz not null,
  created_at timestamptz not null default now()
);
