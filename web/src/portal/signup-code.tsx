/** Sign-up step 2: the one-time code that proves it is you. */
import { useState, type FormEvent } from 'react';
import { verifySignup } from '../api/portal.ts';
import { Field } from '../components/field.tsx';
import { ErrorMessage, StatusMessage } from '../components/status.tsx';
import { useAction } from '../components/use-action.ts';

export function SignupCode({ username, message, onVerified }: { username: string; message: string; onVerified: () => void }) {
  const [code, setCode] = useState('');
  const { busy, error, run } = useAction();
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    await run(async () => {
      await verifySignup(username, code.trim());
      onVerified();
    });
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="code-h">
      <h2 id="code-h">Enter your code</h2>
      <StatusMessage message={message} />
      <p>If we found your record, we sent you a one-time code. Enter it below.</p>
      <Field label="One-time code" name="code" inputMode="numeric" autoComplete="one-time-code" required value={code} onChange={(e) => setCode(e.target.value)} />
      <ErrorMessage error={error} />
      <button type="submit" className="primary" disabled={busy || !code.trim()}>{busy ? 'Checking…' : 'Confirm'}</button>
    </form>
  );
}
