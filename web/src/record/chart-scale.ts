/** Linear scales and "nice" ticks for the small SVG charts. Pure. */

export interface Scale {
  (v: number): number;
  ticks: number[];
}

function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  const nice = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  return nice * power;
}

/** Maps [min,max] (widened to nice ticks) onto [from,to]. */
export function linearScale(min: number, max: number, from: number, to: number, tickCount = 4): Scale {
  let lo = min;
  let hi = max;
  if (lo === hi) {
    const pad = Math.abs(lo) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  const step = niceStep(hi - lo, tickCount);
  lo = Math.floor(lo / step) * step;
  hi = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let t = lo; t <= hi + step / 2; t += step) ticks.push(Number(t.toFixed(10)));
  const scale = ((v: number) => from + ((v - lo) / (hi - lo)) * (to - from)) as Scale;
  scale.ticks = ticks;
  return scale;
}

/** Time scale: evenly spreads [min,max] over [from,to]; a single point sits in the middle. */
export function timeScale(min: number, max: number, from: number, to: number): (t: number) => number {
  if (min === max) return () => (from + to) / 2;
  return (t: number) => from + ((t - min) / (max - min)) * (to - from);
}
