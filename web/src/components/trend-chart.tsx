/** A small SVG line chart of one analyte over time, with the reference range drawn as a shaded band. */
import { useId } from 'react';
import type { LabSeries } from '../record/lab-series.ts';
import { linearScale, timeScale } from '../record/chart-scale.ts';
import { numberText } from '../record/display.ts';

const W = 560;
const H = 220;
const PAD = { left: 52, right: 16, top: 16, bottom: 36 };

function describe(s: LabSeries): string {
  const last = s.points[s.points.length - 1];
  const range = s.low !== undefined || s.high !== undefined ? ` Reference range ${s.low ?? ''}–${s.high ?? ''} ${s.unit}.` : '';
  return `${s.name}: ${s.points.length} results from ${s.points[0].date.slice(0, 10)} to ${last.date.slice(0, 10)}. Latest ${numberText(last.value)} ${s.unit}.${range}`;
}

export function TrendChart({ series }: { series: LabSeries }) {
  const titleId = useId();
  const descId = useId();
  const values = series.points.map((p) => p.value);
  const bounds = [...values, ...(series.low !== undefined ? [series.low] : []), ...(series.high !== undefined ? [series.high] : [])];
  const y = linearScale(Math.min(...bounds), Math.max(...bounds), H - PAD.bottom, PAD.top);
  const times = series.points.map((p) => p.time);
  const x = timeScale(Math.min(...times), Math.max(...times), PAD.left + 8, W - PAD.right - 8);
  const line = series.points.map((p, i) => `${i ? 'L' : 'M'}${x(p.time).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
  const bandTop = y(series.high ?? y.ticks[y.ticks.length - 1]);
  const bandBottom = y(series.low ?? y.ticks[0]);
  const hasBand = series.low !== undefined || series.high !== undefined;
  const first = series.points[0];
  const last = series.points[series.points.length - 1];
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`${titleId} ${descId}`} preserveAspectRatio="xMidYMid meet">
        <title id={titleId}>{`${series.name} trend`}</title>
        <desc id={descId}>{describe(series)}</desc>
        {hasBand && (
          <rect x={PAD.left} width={W - PAD.left - PAD.right} y={bandTop} height={Math.max(0, bandBottom - bandTop)} className="chart-band" />
        )}
        {y.ticks.map((t) => (
          <g key={t}>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(t)} y2={y(t)} className="chart-grid" />
            <text x={PAD.left - 6} y={y(t) + 4} textAnchor="end" className="chart-label">{numberText(t)}</text>
          </g>
        ))}
        <path d={line} className="chart-line" fill="none" />
        {series.points.map((p) => (
          <circle key={`${p.time}-${p.value}`} cx={x(p.time)} cy={y(p.value)} r={p.abnormal ? 5 : 4} className={p.abnormal ? 'chart-point abnormal' : 'chart-point'}>
            <title>{`${p.date.slice(0, 10)}: ${numberText(p.value)} ${series.unit} (${p.source})${p.abnormal ? ', outside range' : ''}`}</title>
          </circle>
        ))}
        <text x={PAD.left} y={H - 10} className="chart-label">{first.date.slice(0, 10)}</text>
        <text x={W - PAD.right} y={H - 10} textAnchor="end" className="chart-label">{last.date.slice(0, 10)}</text>
      </svg>
      <figcaption>
        {series.name} ({series.unit || 'no unit'}).{' '}
        {hasBand ? 'Shaded band: reference range. Larger red dots are outside the range.' : 'The sources sent no reference range for this test.'}
      </figcaption>
    </figure>
  );
}
