/** Add a user: username, display name, role, organization, first password. */
import { useState, type FormEvent } from 'react';
import { addUser } from '../api/admin.ts';
import type { NewUser, Role } from '../api/types.ts';
import { Field, SelectField } from '../components/field.tsx';
import { ErrorMessage } from '../components/status.tsx';

const ROLES: { value: Role; label: string }[] = [
  { value: 'clinician', label: 'Clinician' },
  { value: 'clinical-staff', label: 'Clinical staff' },
  { value: 'registrar', label: 'Registrar' },
  { value: 'privacy-officer', label: 'Privacy officer' },
  { value: 'admin', label: 'HIE administrator' },
];

export function UserForm({ orgs, onAdded }: { orgs: { value: string; label: string }[]; onAdded: (m: string) => void }) {
  const [u, setU] = useState<NewUser>({ username: '', password: '', role: 'clinician', organizationId: '', displayName: '' });
  const [error, setError] = useState<unknown>();
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(undefined);
    try {
      await addUser({ ...u, organizationId: u.organizationId || orgs[0]?.value || '' });
      onAdded(`User ${u.username} added.`);
      setU({ ...u, username: '', password: '', displayName: '' });
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="add-user-h">
      <h3 id="add-user-h">Add a user</h3>
      <div className="form-grid">
        <Field label="Username" required value={u.username} onChange={(e) => setU({ ...u, username: e.target.value })} autoComplete="off" />
        <Field label="Display name" required value={u.displayName} onChange={(e) => setU({ ...u, displayName: e.target.value })} />
        <SelectField label="Role" value={u.role} onChange={(v) => setU({ ...u, role: v as Role })} options={ROLES} />
        <SelectField label="Organization" value={u.organizationId} onChange={(v) => setU({ ...u, organizationId: v })} options={orgs} />
        <Field label="First password" type="password" required minLength={10} autoComplete="new-password" hint="At least 10 characters."
          value={u.password} onChange={(e) => setU({ ...u, password: e.target.value })} />
      </div>
      <ErrorMessage error={error} />
      <button type="submit" className="primary">Add user</button>
    </form>
  );
}
