import { STATUSES, TRANSITIONS, type Status } from './types';

/*
 * The status machine as a graph: the happy path left to right on the top row, the failure
 * and cancel terminals below. Coordinates are the centres of the nodes in the viewBox.
 */
const NODE_W = 150;
const NODE_H = 46;
const TOP = 90;
const BOTTOM = 230;
const column = (index: number): number => 95 + index * 200;

const PLACES: Record<Status, { x: number; y: number }> = {
  PENDING: { x: column(0), y: TOP },
  RESERVED: { x: column(1), y: TOP },
  PAID: { x: column(2), y: TOP },
  COMPLETED: { x: column(3), y: TOP },
  REFUNDED: { x: column(4), y: TOP },
  FAILED_NO_STOCK: { x: column(0), y: BOTTOM },
  CANCELLED: { x: column(1), y: BOTTOM },
  PAYMENT_FAILED: { x: column(2), y: BOTTOM },
};

interface Point {
  x: number;
  y: number;
}

/** Where the line from `from` towards `to` leaves the node's rectangle (plus a small gap). */
function border(from: Point, to: Point): Point {
  const dx = to.x - from.x;
  const dy = to.y - from.y;
  const scale = Math.min(
    dx === 0 ? Infinity : (NODE_W / 2 + 4) / Math.abs(dx),
    dy === 0 ? Infinity : (NODE_H / 2 + 4) / Math.abs(dy),
  );
  return { x: from.x + dx * scale, y: from.y + dy * scale };
}

/** An edge's path and label position; PAID→REFUNDED arcs over COMPLETED. */
function route(from: Status, to: Status): { d: string; label: Point } {
  const a = PLACES[from];
  const b = PLACES[to];
  if (from === 'PAID' && to === 'REFUNDED') {
    const y = a.y - NODE_H / 2 - 4;
    const mid = (a.x + b.x) / 2;
    return { d: `M ${a.x} ${y} Q ${mid} ${y - 110} ${b.x} ${y}`, label: { x: mid, y: y - 50 } };
  }
  const start = border(a, b);
  const end = border(b, a);
  const label = { x: (start.x + end.x) / 2, y: (start.y + end.y) / 2 };
  const horizontal = start.y === end.y;
  return {
    d: `M ${start.x} ${start.y} L ${end.x} ${end.y}`,
    label: horizontal ? { x: label.x, y: label.y - 8 } : { x: label.x + 14, y: label.y },
  };
}

interface Props {
  orders: Partial<Record<Status, number>>;
  transitions: Partial<Record<string, number>>;
}

/** Orders per status and transitions made so far, on the status machine. */
export function SagaGraph({ orders, transitions }: Props) {
  return (
    <svg data-testid="saga-graph" class="saga" viewBox="0 0 1000 270" role="img">
      <title>Order status machine</title>
      <defs>
        <marker
          id="saga-arrow"
          viewBox="0 0 10 10"
          refX="10"
          refY="5"
          markerWidth="8"
          markerHeight="8"
          orient="auto-start-reverse"
        >
          <path d="M 0 0 L 10 5 L 0 10 z" class="arrow-head" />
        </marker>
      </defs>
      {TRANSITIONS.map(([from, to]) => {
        const count = transitions[`${from}>${to}`] ?? 0;
        const { d, label } = route(from, to);
        return (
          <g key={`${from}-${to}`} class={count > 0 ? 'edge used' : 'edge'}>
            <path d={d} marker-end="url(#saga-arrow)" />
            <text data-testid={`edge-${from}-${to}`} x={label.x} y={label.y} text-anchor="middle">
              {count}
            </text>
          </g>
        );
      })}
      {STATUSES.map((status) => {
        const { x, y } = PLACES[status];
        return (
          <g key={status} data-testid={`node-${status}`} class="node">
            <rect x={x - NODE_W / 2} y={y - NODE_H / 2} width={NODE_W} height={NODE_H} rx="6" />
            <text x={x} y={y - 4} text-anchor="middle" class="node-status">
              {status}
            </text>
            <text x={x} y={y + 14} text-anchor="middle" class="node-count">
              {orders[status] ?? 0}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
