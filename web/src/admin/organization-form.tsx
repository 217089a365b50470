/** Add an organization (a FHIR Organization with its facility code, which HL7 v2 senders use in MSH-4). */
import { useState, type FormEvent } from 'react';
import { createOrganization } from '../api/fhir.ts';
import { Field } from '../components/field.tsx';
import { ErrorMessage } from '../components/status.tsx';

const FACILITY_SYSTEM = 'urn:katahdin:facility';

export function OrganizationForm({ onAdded }: { onAdded: (m: string) => void }) {
  const [name, setName] = useState('');
  const [code, setCode] = useState('');
  const [city, setCity] = useState('');
  const [error, setError] = useState<unknown>();
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(undefined);
    try {
      await createOrganization({
        resourceType: 'Organization', active: true, name: name.trim(),
        identifier: [{ system: FACILITY_SYSTEM, value: code.trim() }],
        ...(city.trim() ? { address: [{ city: city.trim(), state: 'ME' }] } : {}),
      });
      onAdded(`Organization ${name} added.`);
      setName('');
      setCode('');
      setCity('');
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="add-org-h">
      <h3 id="add-org-h">Add an organization</h3>
      <div className="form-grid">
        <Field label="Name" required value={name} onChange={(e) => setName(e.target.value)} />
        <Field label="Facility code" required hint="As senders put it in MSH-4, e.g. DMC" value={code} onChange={(e) => setCode(e.target.value)} />
        <Field label="City" value={city} onChange={(e) => setCity(e.target.value)} />
      </div>
      <ErrorMessage error={error} />
      <button type="submit" className="primary">Add organization</button>
    </form>
  );
}
