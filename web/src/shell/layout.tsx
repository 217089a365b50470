/** Page frame: skip link, header with navigation for the user's role, main landmark, footer. */
import type { ReactNode } from 'react';
import { useAuth } from '../auth/auth-context.tsx';
import { ROUTES } from '../routes.tsx';
import { Link, navigate, useLocation } from '../router.tsx';

function Nav() {
  const { session, signOut } = useAuth();
  // Subscribing to the location re-renders the links so aria-current follows navigation.
  useLocation();
  if (!session) return null;
  const items = ROUTES.filter((r) => r.nav && r.roles.includes(session.role));
  return (
    <nav aria-label="Main">
      <ul className="nav">
        {items.map((r) => <li key={r.pattern}><Link to={r.pattern}>{r.nav}</Link></li>)}
      </ul>
      <div className="who">
        <span>{session.displayName} <span className="muted">({session.role})</span></span>
        <button type="button" onClick={() => void signOut().then(() => navigate('/'))}>Sign out</button>
      </div>
    </nav>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  return (
    <>
      <a className="skip-link" href="#main">Skip to main content</a>
      <header className="site-header">
        <Link to="/" className="brand">Katahdin <span>Health Information Exchange</span></Link>
        <Nav />
      </header>
      <main id="main" tabIndex={-1}>{children}</main>
      <footer className="site-footer">
        <p>Katahdin keeps your health information private and secure. Information that identifies you is never sold.</p>
      </footer>
    </>
  );
}
