import { useRef, useState } from 'preact/hooks';
import { call, messageOf, seg } from './api';
import { formatMoney } from './format';
import { HotStockTable } from './hot-stock';
import { LookupForm } from './lookup-form';
import type { AdminProduct, HotStock } from './types';

const productPath = (sku: string): string => `/v1/admin/products/${seg(sku)}`;

/** One product's stock, read and corrected by hand; the hottest SKUs from the live snapshot. */
export function StockTab({ stock }: { stock: HotStock[] }) {
  const [sku, setSku] = useState('');
  const [product, setProduct] = useState<AdminProduct | undefined>();
  const [onHand, setOnHand] = useState('');
  const [result, setResult] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const latest = useRef(0);

  const load = async (wanted: string): Promise<AdminProduct | undefined> => {
    const attempt = ++latest.current;
    try {
      const found = await call<AdminProduct>('GET', productPath(wanted));
      if (attempt !== latest.current) return undefined;
      setProduct(found);
      setOnHand(found.onHand === null ? '' : String(found.onHand));
      return found;
    } catch (failure) {
      if (attempt === latest.current) {
        setProduct(undefined);
        setError(messageOf(failure));
      }
      return undefined;
    }
  };

  const submitLoad = (): void => {
    setResult(undefined);
    setError(undefined);
    if (sku.trim() !== '') void load(sku.trim());
  };

  /** PUT replaces the product, so the name and price read go back unchanged. */
  const save = async (event: Event): Promise<void> => {
    event.preventDefault();
    setResult(undefined);
    setError(undefined);
    if (!product) return;
    const wanted = Number(onHand);
    if (onHand.trim() === '' || !Number.isInteger(wanted) || wanted < 0) {
      setError('on hand must be a whole number, 0 or more');
      return;
    }
    try {
      const { name, price } = product;
      await call('PUT', productPath(product.sku), { name, price, onHand: wanted });
      if (await load(product.sku)) setResult('saved');
    } catch (failure) {
      setError(messageOf(failure));
    }
  };

  return (
    <div class="stack">
      <section class="card">
        <h2>Product stock</h2>
        <LookupForm
          value={sku}
          onInput={setSku}
          onSubmit={submitLoad}
          placeholder="SKU"
          button="Load"
          inputTestId="stock-sku"
          buttonTestId="stock-load"
        />
        {product && (
          <>
            <dl class="pairs">
              <dt>name</dt>
              <dd data-testid="stock-name">{product.name}</dd>
              <dt>price</dt>
              <dd>{formatMoney(product.price)}</dd>
              <dt>on hand</dt>
              <dd data-testid="stock-onhand">{product.onHand ?? '–'}</dd>
              <dt>available</dt>
              <dd data-testid="stock-available">{product.available}</dd>
              <dt>reserved</dt>
              <dd data-testid="stock-reserved">{product.reserved}</dd>
            </dl>
            <form class="row" onSubmit={(event) => void save(event)}>
              <label class="row">
                New on hand
                <input
                  data-testid="stock-set-onhand"
                  type="number"
                  min="0"
                  step="1"
                  value={onHand}
                  onInput={(event) => setOnHand(event.currentTarget.value)}
                />
              </label>
              <button data-testid="stock-set" type="submit">
                Set
              </button>
            </form>
          </>
        )}
        {result !== undefined && (
          <p data-testid="stock-result" class="ok">
            {result}
          </p>
        )}
        {error !== undefined && (
          <p data-testid="stock-error" class="error">
            {error}
          </p>
        )}
      </section>
      <section class="card">
        <h2>Hot stock</h2>
        <HotStockTable stock={stock} />
      </section>
    </div>
  );
}
