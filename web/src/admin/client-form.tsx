/** Register a system client (SMART backend services): id, name, organization, scopes and its public keys (JWKS). */
import { useId, useState, type FormEvent } from 'react';
import { addClient } from '../api/admin.ts';
import { Field, SelectField } from '../components/field.tsx';
import { ErrorMessage } from '../components/status.tsx';

export function ClientForm({ orgs, onAdded }: { orgs: { value: string; label: string }[]; onAdded: (m: string) => void }) {
  const [clientId, setClientId] = useState('');
  const [name, setName] = useState('');
  const [org, setOrg] = useState('');
  const [scopes, setScopes] = useState('system/*.cruds');
  const [jwks, setJwks] = useState('');
  const [error, setError] = useState<unknown>();
  const jwksId = useId();
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(undefined);
    try {
      const parsed: unknown = JSON.parse(jwks);
      await addClient({ clientId, name, organizationId: org || orgs[0]?.value || '', scopes, jwks: parsed });
      onAdded(`Client ${clientId} added.`);
      setClientId('');
      setName('');
      setJwks('');
    } catch (err) {
      setError(err instanceof SyntaxError ? new Error('The keys must be valid JSON (a JWKS).') : err);
    }
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="add-client-h">
      <h3 id="add-client-h">Add a system client</h3>
      <div className="form-grid">
        <Field label="Client id" required value={clientId} onChange={(e) => setClientId(e.target.value)} autoComplete="off" />
        <Field label="Name" required value={name} onChange={(e) => setName(e.target.value)} />
        <SelectField label="Organization" value={org} onChange={setOrg} options={orgs} />
        <Field label="Scopes" required value={scopes} onChange={(e) => setScopes(e.target.value)} hint="Space-separated, e.g. system/*.cruds; add katahdin/query to read what its clinicians may, katahdin/bulk-export to allow bulk export" />
      </div>
      <div className="field">
        <label htmlFor={jwksId}>Public keys (JWKS JSON)</label>
        <textarea id={jwksId} rows={4} required value={jwks} onChange={(e) => setJwks(e.target.value)} />
      </div>
      <ErrorMessage error={error} />
      <button type="submit" className="primary">Add client</button>
    </form>
  );
}
