/** Makes the session available to components and keeps it in step with refreshes and sign-out. */
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { loadSession, type Session } from './session.ts';
import { onSessionChange, setSession } from '../api/http.ts';
import { revoke } from './oauth.ts';

interface AuthValue {
  session: Session | null;
  signOut: () => Promise<void>;
}

const AuthContext = createContext<AuthValue>({ session: null, signOut: async () => undefined });

export function AuthProvider({ children }: { children: ReactNode }) {
  const [session, setLocal] = useState<Session | null>(loadSession);
  useEffect(() => onSessionChange(setLocal), []);
  const signOut = async (): Promise<void> => {
    const s = loadSession();
    if (s?.refreshToken) await revoke(s.refreshToken);
    if (s) await revoke(s.accessToken);
    setSession(null);
  };
  return <AuthContext.Provider value={{ session, signOut }}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthValue {
  return useContext(AuthContext);
}
