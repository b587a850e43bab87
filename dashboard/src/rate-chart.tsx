import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { CHART_POINTS, type RateSeries } from './use-live';

const HEIGHT = 220;

/** Always 15 minutes wide, ending at the latest point, so the axis does not jump as it fills. */
const lastWindow: uPlot.Scale.Range = (_chart, _min, max) => [max - CHART_POINTS, max];

function optionsFor(width: number): uPlot.Options {
  return {
    width,
    height: HEIGHT,
    scales: {
      x: { time: true, range: lastWindow },
      y: { range: (_c, _min, max) => [0, max || 1] },
    },
    axes: [{}, { label: 'orders / s' }],
    series: [
      {},
      { label: 'accepted/s', stroke: '#2563eb', width: 2 },
      { label: 'completed/s', stroke: '#16a34a', width: 2 },
    ],
    legend: { show: true },
  };
}

const dataOf = (rates: RateSeries): uPlot.AlignedData => [
  rates.at,
  rates.accepted,
  rates.completed,
];

/** Accepted and completed orders per second over the last 15 minutes. */
export function RateChart({ rates }: { rates: RateSeries }) {
  const host = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);

  useEffect(() => {
    const element = host.current;
    if (!element) return;
    const plot = new uPlot(optionsFor(element.clientWidth || 600), dataOf(rates), element);
    chart.current = plot;
    const resized = new ResizeObserver(() => {
      plot.setSize({ width: element.clientWidth || 600, height: HEIGHT });
    });
    resized.observe(element);
    return () => {
      resized.disconnect();
      plot.destroy();
      chart.current = null;
    };
    // Created once, with the data of the moment; later data arrives through setData below.
  }, []);

  useEffect(() => {
    chart.current?.setData(dataOf(rates));
  }, [rates]);

  return <div data-testid="rate-chart" class="chart" ref={host} />;
}
