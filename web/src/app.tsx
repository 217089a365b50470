/** Chooses the screen for the current URL and the signed-in role. */
import { useEffect } from 'react';
import { useAuth } from './auth/auth-context.tsx';
import { match, navigate, useLocation } from './router.tsx';
import { ROUTES, homeFor } from './routes.tsx';
import { Layout } from './shell/layout.tsx';
import { WelcomePage } from './shell/welcome-page.tsx';
import { CallbackPage } from './shell/callback-page.tsx';
import { SignupPage } from './portal/signup-page.tsx';

function useTitleAndFocus(title: string, path: string): void {
  useEffect(() => {
    document.title = `${title} · Katahdin`;
    // Move focus to the main region on navigation so screen-reader and keyboard users start at the new content.
    document.getElementById('main')?.focus({ preventScroll: true });
  }, [title, path]);
}

function Screen() {
  const { session } = useAuth();
  const { path } = useLocation();
  const found = ROUTES.map((r) => ({ r, params: match(r.pattern, path) })).find((x) => x.params);
  const title = path === '/callback' ? 'Signing in' : path === '/patient/signup' ? 'Create your account' : found?.r.title ?? 'Welcome';
  useTitleAndFocus(title, path);
  useEffect(() => {
    if (session && (path === '/' || (found && !found.r.roles.includes(session.role)))) navigate(homeFor(session.role), true);
  }, [session, path, found]);
  if (path === '/callback') return <CallbackPage />;
  if (path === '/patient/signup') return <SignupPage />;
  if (!session || !found) return <WelcomePage />;
  if (!found.r.roles.includes(session.role)) return null;
  return <>{found.r.render(found.params ?? {})}</>;
}

export function App() {
  return (
    <Layout>
      <Screen />
    </Layout>
  );
}
