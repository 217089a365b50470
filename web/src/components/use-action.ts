/**
 * Tracks busy / error for a user action that calls the server, so forms and buttons do not each repeat the same
 * try / catch / finally. `run` clears the last error, awaits the work and resolves to whether it succeeded.
 */
import { useCallback, useState } from 'react';

export interface ActionState {
  busy: boolean;
  error?: unknown;
  run: (work: () => Promise<void>) => Promise<boolean>;
}

export function useAction(): ActionState {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const run = useCallback(async (work: () => Promise<void>): Promise<boolean> => {
    setBusy(true);
    setError(undefined);
    try {
      await work();
      return true;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run };
}
