-- An attachment naming a Binary by version (`Binary/1/_history/2`, also under this server's FHIR base) names Binary 1
-- (`namedBinaries` in privacy/labels/propagate.ts), and a Media's `content` is an attachment too. `binaries_named`
-- now also reads the versioned form (the id, the version dropped; the version with an id's characters, as the code
-- reads it), and the index also covers Media. The index is dropped before the function changes and built again
-- after it, so no entry computed by the earlier body is left behind; the query (`binaries_named(content) && …` in
-- access/stored-labels.ts) matches the expression unchanged.
drop index resources_binaries_named;

create or replace function binaries_named(content jsonb) returns text[] language sql immutable parallel safe as $$
  select array(select distinct substring(u #>> '{}' from '(?:^|/)Binary/([A-Za-z0-9.-]{1,64})(?:/_history/[A-Za-z0-9.-]{1,64})?$')
    from jsonb_path_query(content, 'lax $.**.url ? (@ like_regex "(^|/)Binary/[A-Za-z0-9.-]{1,64}(/_history/[A-Za-z0-9.-]{1,64})?$")') u)
$$;

create index resources_binaries_named on resources using gin (binaries_named(content))
  where resource_type in ('DocumentReference', 'DiagnosticReport', 'Communication', 'CommunicationRequest', 'Contract', 'Media');
