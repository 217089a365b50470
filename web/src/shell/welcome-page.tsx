/** The public start page: sign in, or (for patients) create an account. */
import { beginSignIn } from '../auth/oauth.ts';
import { Link } from '../router.tsx';

export function WelcomePage() {
  return (
    <>
      <h1>Welcome to Katahdin</h1>
      <p>
        Katahdin is a secure system that doctors, hospitals and labs use to share your health information. It brings your key medical
        information together in one record so the people who care for you can give you better and safer care.
      </p>
      <div className="two-col">
        <section className="card" aria-labelledby="signin-h">
          <h2 id="signin-h">Sign in</h2>
          <p>For patients, doctors, nurses and staff.</p>
          <button type="button" className="primary" onClick={() => void beginSignIn('/')}>Sign in</button>
        </section>
        <section className="card" aria-labelledby="new-h">
          <h2 id="new-h">New patient account</h2>
          <p>See your record, make your privacy choices, and see who looked at your record.</p>
          <Link className="button" to="/patient/signup">Create an account</Link>
        </section>
      </div>
    </>
  );
}
