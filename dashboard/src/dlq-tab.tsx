import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { messageOf } from './api';
import { ConfirmDialog } from './confirm-dialog';
import { deadLetterPage, discard, redrive, redriveAll } from './dead-letters';
import { DlqRow } from './dlq-row';
import type { DeadLetter } from './types';

interface Question {
  message: string;
  action: () => Promise<void>;
}

/**
 * Dead letters, with redrive and discard behind a confirmation. The list reloads after each
 * action and whenever the live total of dead letters changes.
 */
export function DlqTab({ dlqTotal }: { dlqTotal: number | undefined }) {
  const [letters, setLetters] = useState<DeadLetter[] | undefined>();
  const [cursor, setCursor] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [result, setResult] = useState<string | undefined>();
  const [question, setQuestion] = useState<Question | undefined>();
  const [busy, setBusy] = useState(false);
  const latest = useRef(0);

  const reload = useCallback(async (): Promise<void> => {
    const attempt = ++latest.current;
    try {
      const page = await deadLetterPage();
      if (attempt !== latest.current) return;
      setLetters(page.deadLetters);
      setCursor(page.nextCursor);
      setError(undefined);
    } catch (failure) {
      if (attempt === latest.current) setError(messageOf(failure));
    }
  }, []);

  const more = async (): Promise<void> => {
    const attempt = ++latest.current;
    try {
      const page = await deadLetterPage(cursor);
      if (attempt !== latest.current) return;
      setLetters((shown) => [...(shown ?? []), ...page.deadLetters]);
      setCursor(page.nextCursor);
    } catch (failure) {
      if (attempt === latest.current) setError(messageOf(failure));
    }
  };

  useEffect(() => {
    void reload();
  }, [dlqTotal, reload]);

  const answer = async (yes: boolean): Promise<void> => {
    const asked = question;
    setQuestion(undefined);
    if (!yes || !asked) return;
    setBusy(true);
    try {
      await asked.action();
    } catch (failure) {
      setResult(messageOf(failure));
    } finally {
      setBusy(false);
      await reload();
    }
  };

  const ask = (message: string, action: () => Promise<void>): void =>
    setQuestion({ message, action });

  const single = (letter: DeadLetter, verb: 'redrive' | 'discard'): void =>
    ask(
      `${verb === 'redrive' ? 'Redrive' : 'Discard'} the ${letter.event.type} of ${letter.consumer}?`,
      async () => {
        await (verb === 'redrive' ? redrive(letter.id) : discard(letter.id));
        setResult(verb === 'redrive' ? 'redriven' : 'discarded');
      },
    );

  const all = (): void =>
    ask('Redrive every dead letter?', async () => {
      setResult('collecting dead letters…');
      const outcome = await redriveAll((done, total) =>
        setResult(`redriving ${done} of ${total}…`),
      );
      setResult(
        outcome.failed === 0
          ? `redriven ${outcome.redriven}`
          : `redriven ${outcome.redriven}, failed ${outcome.failed}: ${outcome.lastError ?? ''}`,
      );
    });

  return (
    <section class="card">
      <div class="row spread">
        <h2>Dead letters</h2>
        <button
          data-testid="dlq-redrive-all"
          disabled={busy || !letters || letters.length === 0}
          onClick={all}
        >
          Redrive all
        </button>
      </div>
      {result !== undefined && (
        <p data-testid="dlq-result" class="note">
          {result}
        </p>
      )}
      {error !== undefined && <p class="error">{error}</p>}
      {letters?.length === 0 && (
        <p data-testid="dlq-empty" class="muted">
          No dead letters.
        </p>
      )}
      {letters && letters.length > 0 && (
        <table class="grid">
          <thead>
            <tr>
              <th>Consumer</th>
              <th>Event</th>
              <th>Order</th>
              <th class="num">Attempts</th>
              <th>Last error</th>
              <th>Time</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {letters.map((letter) => (
              <DlqRow
                key={letter.id}
                letter={letter}
                busy={busy}
                onRedrive={() => single(letter, 'redrive')}
                onDiscard={() => single(letter, 'discard')}
              />
            ))}
          </tbody>
        </table>
      )}
      {cursor !== undefined && <button onClick={() => void more()}>More</button>}
      {question && (
        <ConfirmDialog
          message={question.message}
          onYes={() => void answer(true)}
          onNo={() => void answer(false)}
        />
      )}
    </section>
  );
}
