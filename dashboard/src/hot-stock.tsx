import type { HotStock } from './types';

/** The hottest SKUs of the latest snapshot; low ones are marked for the eye and for tests. */
export function HotStockTable({ stock }: { stock: HotStock[] }) {
  if (stock.length === 0) return <p class="muted">No stock figures yet.</p>;
  return (
    <table class="grid">
      <thead>
        <tr>
          <th>SKU</th>
          <th>Name</th>
          <th class="num">On hand</th>
          <th class="num">Available</th>
          <th class="num">Reserved</th>
        </tr>
      </thead>
      <tbody>
        {stock.map((item) => (
          <tr
            key={item.sku}
            data-testid={`hot-${item.sku}`}
            data-low={String(item.low)}
            class={item.low ? 'low' : undefined}
          >
            <td>
              {item.sku}
              {item.low && <span class="badge">low</span>}
            </td>
            <td>{item.name}</td>
            <td class="num">{item.onHand ?? '–'}</td>
            <td class="num">{item.available}</td>
            <td class="num">{item.reserved}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
