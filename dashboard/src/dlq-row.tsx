import { useState } from 'preact/hooks';
import { formatTime } from './format';
import type { DeadLetter } from './types';

interface Props {
  letter: DeadLetter;
  busy: boolean;
  onRedrive: () => void;
  onDiscard: () => void;
}

/** One dead letter; its event's JSON opens below it on demand. */
export function DlqRow({ letter, busy, onRedrive, onDiscard }: Props) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <tr data-testid="dlq-row">
        <td>{letter.consumer}</td>
        <td class="mono">{letter.event.type}</td>
        <td class="mono">{letter.event.key}</td>
        <td class="num">{letter.attempts}</td>
        <td class="error">{letter.lastError}</td>
        <td>{formatTime(letter.at)}</td>
        <td class="actions">
          <button data-testid="dlq-inspect" class="quiet" onClick={() => setOpen(!open)}>
            {open ? 'Hide' : 'Inspect'}
          </button>
          <button data-testid="dlq-redrive" disabled={busy} onClick={onRedrive}>
            Redrive
          </button>
          <button data-testid="dlq-discard" class="danger" disabled={busy} onClick={onDiscard}>
            Discard
          </button>
        </td>
      </tr>
      {open && (
        <tr class="payload">
          <td colSpan={7}>
            <pre data-testid="dlq-payload">{JSON.stringify(letter.event, null, 2)}</pre>
          </td>
        </tr>
      )}
    </>
  );
}
