/** /callback: finishes sign-in and goes to the user's home screen. */
import { useEffect, useRef, useState } from 'react';
import { completeSignIn } from '../auth/oauth.ts';
import { setSession } from '../api/http.ts';
import { navigate } from '../router.tsx';
import { homeFor } from '../routes.tsx';
import { ErrorMessage, Loading } from '../components/status.tsx';
import { Link } from '../router.tsx';

export function CallbackPage() {
  const [error, setError] = useState<unknown>();
  const started = useRef(false);
  useEffect(() => {
    // Codes are single-use: guard against React running the effect twice in development.
    if (started.current) return;
    started.current = true;
    completeSignIn(window.location.search).then(
      ({ session, returnTo }) => {
        setSession(session);
        navigate(returnTo && returnTo !== '/' ? returnTo : homeFor(session.role), true);
      },
      setError,
    );
  }, []);
  return (
    <>
      <h1>Signing you in</h1>
      {error ? <><ErrorMessage error={error} /><Link to="/">Back to the start page</Link></> : <Loading what="your account" />}
    </>
  );
}
