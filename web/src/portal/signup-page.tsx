/** Account creation: we match you on your details, then you confirm with a one-time code. */
import { useState } from 'react';
import { beginSignIn } from '../auth/oauth.ts';
import { SignupDetails } from './signup-details.tsx';
import { SignupCode } from './signup-code.tsx';

type Step = { name: 'details' } | { name: 'code'; username: string; message: string } | { name: 'done'; username: string };

export function SignupPage() {
  const [step, setStep] = useState<Step>({ name: 'details' });
  return (
    <>
      <h1>Create your account</h1>
      <p>Step {step.name === 'details' ? 1 : step.name === 'code' ? 2 : 3} of 3</p>
      {step.name === 'details' && <SignupDetails onSent={(username, message) => setStep({ name: 'code', username, message })} />}
      {step.name === 'code' && <SignupCode username={step.username} message={step.message} onVerified={() => setStep({ name: 'done', username: step.username })} />}
      {step.name === 'done' && (
        <section className="card" aria-labelledby="done-h">
          <h2 id="done-h">Your account is ready</h2>
          <p role="status">You can now sign in as <strong>{step.username}</strong>.</p>
          <button type="button" className="primary" onClick={() => void beginSignIn('/patient')}>Sign in</button>
        </section>
      )}
    </>
  );
}
