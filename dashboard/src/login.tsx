import { useState } from 'preact/hooks';

interface Props {
  error: string | undefined;
  onSubmit: (key: string) => Promise<void>;
}

/** The admin key form; a form, so Enter submits as the button does. */
export function Login({ error, onSubmit }: Props) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = (event: Event): void => {
    event.preventDefault();
    setBusy(true);
    void onSubmit(key).finally(() => setBusy(false));
  };

  return (
    <main class="login">
      <form class="card" onSubmit={submit}>
        <h1>orderflow</h1>
        <label>
          Admin key
          <input
            data-testid="login-key"
            type="password"
            autocomplete="current-password"
            value={key}
            onInput={(event) => setKey(event.currentTarget.value)}
          />
        </label>
        <button data-testid="login-submit" type="submit" disabled={busy}>
          Open dashboard
        </button>
        {error !== undefined && (
          <p data-testid="login-error" class="error">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
