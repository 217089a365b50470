/** Users, system clients and organizations. */
import { useState } from 'react';
import { listClients, listUsers, setClientDisabled, setUserDisabled } from '../api/admin.ts';
import { listOrganizations } from '../api/fhir.ts';
import { CLIENT_ID } from '../auth/oauth.ts';
import { useAsync } from '../components/use-async.ts';
import { ErrorMessage, Loading, StatusMessage } from '../components/status.tsx';
import { UserForm } from './user-form.tsx';
import { ClientForm } from './client-form.tsx';
import { OrganizationForm } from './organization-form.tsx';
import { TableScroll } from '../components/table-scroll.tsx';

export function UsersPage() {
  const users = useAsync(listUsers, []);
  const clients = useAsync(listClients, []);
  const orgs = useAsync(listOrganizations, []);
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<unknown>();
  const toggle = async (what: string, change: () => Promise<unknown>, reload: () => void): Promise<void> => {
    try {
      await change();
      setMessage(what);
      reload();
    } catch (err) {
      setError(err);
    }
  };
  const options = (orgs.data ?? []).map((o) => ({ value: o.id ?? '', label: o.name ?? o.id ?? '' }));
  const orgName = (id?: string): string => options.find((o) => o.value === id)?.label ?? id ?? '';
  return (
    <>
      <h1>Users and systems</h1>
      <StatusMessage message={message} />
      <ErrorMessage error={error} />
      <h2>Users</h2>
      {users.loading && <Loading what="users" />}
      <ErrorMessage error={users.error} />
      {users.data && (
        <TableScroll label="Users">
          <table className="data">
            <thead><tr><th scope="col">Username</th><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Organization</th><th scope="col">Access</th></tr></thead>
            <tbody>{users.data.map((u) => (
              <tr key={u.username}>
                <td>{u.username}</td><td>{u.displayName}</td><td>{u.role}</td><td>{orgName(u.organizationId)}</td>
                <td>
                  {u.disabled ? 'disabled ' : ''}
                  <button type="button" onClick={() => void toggle(`${u.username} ${u.disabled ? 'enabled' : 'disabled'}.`, () => setUserDisabled(u.username, !u.disabled), users.reload)}>
                    {u.disabled ? 'Enable' : 'Disable'}<span className="visually-hidden"> {u.username}</span>
                  </button>
                </td>
              </tr>
            ))}</tbody>
          </table>
        </TableScroll>
      )}
      <UserForm orgs={options} onAdded={(m) => { setMessage(m); users.reload(); }} />
      <h2>System clients</h2>
      <ErrorMessage error={clients.error} />
      {clients.data && (
        <ul>{clients.data.map((c) => (
          <li key={c.clientId}>
            <strong>{c.clientId}</strong> — {c.name}{c.organizationId ? ` (${orgName(c.organizationId)})` : ''} · {c.scopes.join(' ')}{c.disabled ? ' · disabled' : ''}{' '}
            {c.clientId !== CLIENT_ID && (
              <button type="button" onClick={() => void toggle(`${c.clientId} ${c.disabled ? 'enabled' : 'disabled'}.`, () => setClientDisabled(c.clientId, !c.disabled), clients.reload)}>
                {c.disabled ? 'Enable' : 'Disable'}<span className="visually-hidden"> {c.clientId}</span>
              </button>
            )}
          </li>
        ))}</ul>
      )}
      <ClientForm orgs={options} onAdded={(m) => { setMessage(m); clients.reload(); }} />
      <h2>Organizations</h2>
      <ErrorMessage error={orgs.error} />
      <ul>{(orgs.data ?? []).map((o) => <li key={o.id}>{o.name} <span className="muted">({o.identifier?.[0]?.value ?? o.id})</span></li>)}</ul>
      <OrganizationForm onAdded={(m) => { setMessage(m); orgs.reload(); }} />
    </>
  );
}
