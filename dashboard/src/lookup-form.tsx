/** A one-field form that looks something up: the order id, the SKU. Enter submits too. */
export function LookupForm(props: {
  value: string;
  onInput: (value: string) => void;
  onSubmit: () => void;
  placeholder: string;
  button: string;
  inputTestId: string;
  buttonTestId: string;
}) {
  const submit = (event: Event): void => {
    event.preventDefault();
    props.onSubmit();
  };
  return (
    <form class="row" onSubmit={submit}>
      <input
        data-testid={props.inputTestId}
        placeholder={props.placeholder}
        value={props.value}
        onInput={(event) => props.onInput(event.currentTarget.value)}
      />
      <button data-testid={props.buttonTestId} type="submit">
        {props.button}
      </button>
    </form>
  );
}
