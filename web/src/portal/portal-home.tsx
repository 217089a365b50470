/** Portal start page: what the patient can do here. */
import { Link } from '../router.tsx';
import { useAuth } from '../auth/auth-context.tsx';

export function PortalHome() {
  const { session } = useAuth();
  return (
    <>
      <h1>Welcome, {session?.displayName}</h1>
      <p>Katahdin is a secure system that lets your doctors, hospitals and labs share your health information so they can give you better and safer care.</p>
      <ul className="link-cards">
        <li><Link to="/patient/record" className="card-link"><strong>My health record</strong><span>See the information that was shared about you.</span></Link></li>
        <li><Link to="/patient/choices" className="card-link"><strong>My privacy choices</strong><span>Opt out, opt back in, or choose what private information to share.</span></Link></li>
        <li><Link to="/patient/audit" className="card-link"><strong>Who looked at my record</strong><span>See and download a list of who viewed your record and when.</span></Link></li>
      </ul>
    </>
  );
}
