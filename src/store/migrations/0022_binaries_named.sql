-- A Binary written after the labelled document that names it takes the document's labels at its own write
-- (`labelsFromDocuments` in access/stored-labels.ts), which needs the documents naming a Binary without reading them
-- all. `binaries_named` lists the ids of the Binaries a resource's `url`s name (`Binary/id`, also at the end of an
-- absolute URL): a superset of the attachments label propagation follows (`namedBinaries`), which decides among the
-- rows found. Only the types whose attachments name a Binary are indexed (DocumentReference.content.attachment,
-- DiagnosticReport.presentedForm, Communication(Request).payload.contentAttachment, Contract terms): walking every
-- resource's JSON would add about 12 µs to the insert of each small resource (PostgreSQL 15).
create function binaries_named(content jsonb) returns text[] language sql immutable parallel safe as $$
  select array(select distinct substring(u #>> '{}' from '(?:^|/)Binary/([A-Za-z0-9.-]{1,64})$')
    from jsonb_path_query(content, 'lax $.**.url ? (@ like_regex "(^|/)Binary/[A-Za-z0-9.-]{1,64}$")') u)
$$;

create index resources_binaries_named on resources using gin (binaries_named(content))
  where resource_type in ('DocumentReference', 'DiagnosticReport', 'Communication', 'CommunicationRequest', 'Contract');
