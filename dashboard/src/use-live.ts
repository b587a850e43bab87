import { useEffect, useState } from 'preact/hooks';
import { connectLive } from './live';
import type { RateSample, Snapshot } from './types';

/** The chart keeps 15 minutes of per-second points, as the server's history does. */
export const CHART_POINTS = 900;

/** The rate series as uPlot wants them: seconds since the epoch, then one array per series. */
export interface RateSeries {
  at: number[];
  accepted: number[];
  completed: number[];
}

export interface LiveState {
  isOpen: boolean;
  snapshot: Snapshot | null;
  rates: RateSeries;
}

const EMPTY: RateSeries = { at: [], accepted: [], completed: [] };

function seriesOf(samples: RateSample[]): RateSeries {
  const last = samples.slice(-CHART_POINTS);
  return {
    at: last.map((sample) => Date.parse(sample.at) / 1000),
    accepted: last.map((sample) => sample.acceptedPerS),
    completed: last.map((sample) => sample.completedPerS),
  };
}

/** Appends one second, unless the history already had it; drops what is older than 15 min. */
function appended(series: RateSeries, snapshot: Snapshot): RateSeries {
  const at = Date.parse(snapshot.at) / 1000;
  const lastAt = series.at[series.at.length - 1];
  if (lastAt !== undefined && at <= lastAt) return series;
  const keep = (values: number[], value: number): number[] =>
    [...values, value].slice(-CHART_POINTS);
  return {
    at: keep(series.at, at),
    accepted: keep(series.accepted, snapshot.rates.acceptedPerS),
    completed: keep(series.completed, snapshot.rates.completedPerS),
  };
}

/** The live stream as state, open while the component lives; `refused` ends the session. */
export function useLive(key: string, refused: (message: string) => void): LiveState {
  const [isOpen, setOpen] = useState(false);
  const [snapshot, setSnapshot] = useState<Snapshot | null>(null);
  const [rates, setRates] = useState<RateSeries>(EMPTY);

  useEffect(
    () =>
      connectLive(key, {
        history: (samples) => setRates(seriesOf(samples)),
        snapshot: (next) => {
          setSnapshot(next);
          setRates((series) => appended(series, next));
        },
        open: setOpen,
        refused,
      }),
    [key, refused],
  );

  return { isOpen, snapshot, rates };
}
