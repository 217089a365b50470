/** Sign-up step 1: the details we use to find you, and your new username and password. */
import { useState, type FormEvent } from 'react';
import { startSignup, type SignupStart } from '../api/portal.ts';
import { Field } from '../components/field.tsx';
import { ErrorMessage } from '../components/status.tsx';
import { useAction } from '../components/use-action.ts';

const EMPTY: SignupStart = { given: '', family: '', birthDate: '', postalCode: '', username: '', password: '' };

export function SignupDetails({ onSent }: { onSent: (username: string, message: string) => void }) {
  const [f, setF] = useState<SignupStart>(EMPTY);
  const { busy, error, run } = useAction();
  const set = (k: keyof SignupStart) => (e: { target: { value: string } }) => setF((old) => ({ ...old, [k]: e.target.value }));
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    await run(async () => {
      const r = await startSignup({ ...f, given: f.given.trim(), family: f.family.trim(), username: f.username.trim() });
      onSent(f.username.trim(), r.message);
    });
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="details-h">
      <h2 id="details-h">Tell us who you are</h2>
      <p>Use the same name and birth date your doctor has. We use them to find your record.</p>
      <div className="form-grid">
        <Field label="First name" name="given" autoComplete="given-name" required value={f.given} onChange={set('given')} />
        <Field label="Last name" name="family" autoComplete="family-name" required value={f.family} onChange={set('family')} />
        <Field label="Birth date" name="birthDate" type="date" autoComplete="bday" required value={f.birthDate} onChange={set('birthDate')} />
        <Field label="ZIP code" name="postalCode" autoComplete="postal-code" inputMode="numeric" required value={f.postalCode} onChange={set('postalCode')} />
        <Field label="Choose a username" name="username" autoComplete="username" required value={f.username} onChange={set('username')} />
        <Field label="Choose a password" name="password" type="password" autoComplete="new-password" required minLength={10}
          hint="At least 10 characters." value={f.password} onChange={set('password')} />
      </div>
      <ErrorMessage error={error} />
      <button type="submit" className="primary" disabled={busy}>{busy ? 'Sending…' : 'Send me a code'}</button>
    </form>
  );
}
