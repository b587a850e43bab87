import { useEffect, useRef } from 'preact/hooks';

interface Props {
  message: string;
  onYes: () => void;
  onNo: () => void;
}

/** A modal question before a change that cannot be undone; Escape answers no. */
export function ConfirmDialog({ message, onYes, onNo }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    return () => element?.close();
  }, []);

  return (
    <dialog
      ref={dialog}
      data-testid="confirm-dialog"
      class="confirm"
      onCancel={(event) => {
        event.preventDefault();
        onNo();
      }}
    >
      <p>{message}</p>
      <div class="row end">
        <button data-testid="confirm-no" class="quiet" onClick={onNo}>
          Cancel
        </button>
        <button data-testid="confirm-yes" class="danger" onClick={onYes}>
          Yes
        </button>
      </div>
    </dialog>
  );
}
