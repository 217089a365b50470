/** A half-open time range [lo, hi) in ISO-8601 UTC; open ends are `-infinity` / `infinity` (PostgreSQL timestamptz literals). */
export interface DateRange {
  lo: string;
  hi: string;
}

const DATE_RE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

function offsetMinutes(tz: string | undefined): number {
  if (!tz || tz === 'Z') return 0;
  const sign = tz.startsWith('-') ? -1 : 1;
  return sign * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6)));
}

/** Milliseconds of the precision step, and the fields as numbers; undefined when a field is out of range. */
function fields(m: RegExpExecArray): { parts: number[]; step: number; stepUnit: 'y' | 'm' | 'ms' } | undefined {
  const [y, mo = 1, d = 1, h = 0, mi = 0, s = 0] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((v) =>
    v === undefined ? undefined : Number(v),
  );
  const ms = m[7] ? Math.floor(Number(m[7]) * 1000) : 0;
  if (mo < 1 || mo > 12 || d < 1 || d > new Date(Date.UTC(y as number, mo, 0)).getUTCDate()) return undefined;
  if (h > 23 || mi > 59 || s > 59) return undefined;
  const parts = [y as number, mo - 1, d, h, mi, s, ms];
  if (!m[2]) return { parts, step: 1, stepUnit: 'y' };
  if (!m[3]) return { parts, step: 1, stepUnit: 'm' };
  if (!m[4]) return { parts, step: 86_400_000, stepUnit: 'ms' };
  if (!m[6]) return { parts, step: 60_000, stepUnit: 'ms' };
  const digits = m[7] ? m[7].length - 1 : 0;
  return { parts, step: digits >= 3 ? 1 : 1000 / 10 ** digits, stepUnit: 'ms' };
}

/** The range a FHIR date, dateTime or instant denotes at its precision: `2020` → [2020-01-01T00:00Z, 2021-01-01T00:00Z). */
export function dateRange(text: string): DateRange | undefined {
  const m = DATE_RE.exec(text.trim());
  if (!m) return undefined;
  const f = fields(m);
  if (!f) return undefined;
  const [y, mo, d, h, mi, s, ms] = f.parts;
  const shift = offsetMinutes(m[8]) * 60_000;
  const lo = Date.UTC(y, mo, d, h, mi, s, ms) - shift;
  let hi: number;
  if (f.stepUnit === 'y') hi = Date.UTC(y + 1, 0, 1);
  else if (f.stepUnit === 'm') hi = Date.UTC(y, mo + 1, 1);
  else hi = lo + f.step;
  return { lo: new Date(lo).toISOString(), hi: new Date(hi).toISOString() };
}

export const OPEN_LO = '-infinity';
export const OPEN_HI = 'infinity';
