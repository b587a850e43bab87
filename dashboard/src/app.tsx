import { useCallback, useEffect, useState } from 'preact/hooks';
import { messageOf } from './api';
import { Dashboard } from './dashboard';
import { forgetKey, readKey, storeKey } from './key-storage';
import { Login } from './login';
import { closeSession, keyRequired, openSession } from './session';

type Phase =
  { kind: 'checking' } | { kind: 'login'; error?: string } | { kind: 'open'; key: string };

/**
 * The session gate: nothing but the login form renders (and nothing is fetched) until a
 * session is open. A stored key is tried first; without one, the page asks whether a key is
 * needed at all (anonymous loopback mode) rather than trying and failing, which the browser
 * would print as an error.
 */
export function App() {
  const [phase, setPhase] = useState<Phase>({ kind: 'checking' });

  useEffect(() => {
    const stored = readKey();
    /** The key a session was opened with, or null when the login form must ask for one. */
    const opening: Promise<string | null> =
      stored === null
        ? keyRequired().then(async (required) => {
            if (required) return null;
            await openSession('');
            return '';
          })
        : openSession(stored).then(() => stored);
    opening.then(
      (key) => {
        if (key === null) return setPhase({ kind: 'login' });
        storeKey(key);
        setPhase({ kind: 'open', key });
      },
      (error: unknown) => {
        if (stored !== null) forgetKey();
        setPhase({ kind: 'login', error: messageOf(error) });
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
