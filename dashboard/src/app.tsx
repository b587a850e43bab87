import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, messageOf } from './api';
import { Dashboard } from './dashboard';
import { forgetKey, readKey, storeKey } from './key-storage';
import { Login } from './login';
import { closeSession, openSession } from './session';

type Phase =
  { kind: 'checking' } | { kind: 'login'; error?: string } | { kind: 'open'; key: string };

/**
 * The session gate: nothing but the login form renders (and nothing is fetched) until a
 * session is open. A stored key is tried first, then anonymous loopback mode (`{}`).
 */
export function App() {
  const [phase, setPhase] = useState<Phase>({ kind: 'checking' });

  useEffect(() => {
    const stored = readKey();
    openSession(stored ?? '').then(
      () => {
        storeKey(stored ?? '');
        setPhase({ kind: 'open', key: stored ?? '' });
      },
      (error: unknown) => {
        if (stored !== null) forgetKey();
        // Without a stored key a 401 only says keys are required: no error to show.
        const expected = stored === null && error instanceof ApiError && error.status === 401;
        setPhase({ kind: 'login', error: expected ? undefined : messageOf(error) });
      },
    );
  }, []);

  const login = async (key: string): Promise<void> => {
    try {
      await openSession(key);
      storeKey(key);
      setPhase({ kind: 'open', key });
    } catch (error) {
      setPhase({ kind: 'login', error: messageOf(error) });
    }
  };

  const logout = useCallback((error?: string): void => {
    forgetKey();
    setPhase({ kind: 'login', error });
    void closeSession();
  }, []);

  const refused = useCallback((message: string) => logout(message), [logout]);

  if (phase.kind === 'checking') return <p class="checking">connecting…</p>;
  if (phase.kind === 'login') return <Login error={phase.error} onSubmit={login} />;
  return <Dashboard adminKey={phase.key} onLogout={() => logout()} onRefused={refused} />;
}
