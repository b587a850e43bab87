/** The CLI's pure pieces: how `--from` is read, how tables and money print, the createdb hint. */
import { describe, expect, it } from 'vitest';
import { replayStart } from '../../src/cli/commands/replay.js';
import { createdbCommand } from '../../src/cli/doctor/postgres-check.js';
import { money, table } from '../../src/cli/output.js';

describe('replay --from', () => {
  const now = Date.parse('2026-12-01T12:00:00.000Z');

  it('reads a sequence number, an ISO time or a duration ago', () => {
    expect(replayStart('42', now)).toEqual({ fromSeq: 42 });
    expect(replayStart('2026-12-01T10:00:00+01:00', now)).toEqual({
      fromTime: '2026-12-01T09:00:00.000Z',
    });
    expect(replayStart('15m', now)).toEqual({ fromTime: '2026-12-01T11:45:00.000Z' });
  });

  it('refuses anything else as a usage error (exit 1)', () => {
    expect(() => replayStart('yesterday', now)).toThrow(/sequence number/);
    try {
      replayStart('yesterday', now);
    } catch (error) {
      expect((error as { exitCode?: number }).exitCode).toBe(1);
    }
  });
});

describe('output', () => {
  it('pads columns to their widest cell, without trailing spaces', () => {
    expect(
      table(
        ['SKU', 'QTY'],
        [
          ['A123', '2'],
          ['B4', '10'],
        ],
      ),
    ).toBe('SKU   QTY\nA123  2\nB4    10');
  });

  it('prints money by the currency’s decimals', () => {
    expect(money({ amount: 1999, currency: 'USD' })).toBe('19.99 USD');
    expect(money({ amount: 500, currency: 'JPY' })).toBe('500 JPY');
  });
});

describe('doctor’s createdb hint', () => {
  it('names the server, the port, the user and the database of the URL', () => {
    expect(createdbCommand('postgres://shop:secret@db.internal:5433/orders')).toBe(
      'createdb -h db.internal -p 5433 -U shop orders',
    );
    expect(createdbCommand("postgres://127.0.0.1/it's")).toBe(
      "createdb -h 127.0.0.1 -p 5432 'it'\\''s'",
    );
  });
});
