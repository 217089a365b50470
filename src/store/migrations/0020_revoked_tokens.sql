-- Access tokens revoked one by one (RFC 7009, /oauth/revoke) that have no login session to end: a system client's
-- token, or one minted by `katahdin token`. Refused until their `exp`; a row past it is useless and is deleted by the
-- next revocation. Tokens of a session are revoked by ending the session.
create table revoked_tokens (
  jti text primary key,
  expires_at timestamptz not null
);
