/** HL7 TS/DTM/DT → FHIR date/dateTime. Returns undefined for anything that is not a real date. */
const TS = /^(\d{4})(\d{2})?(\d{2})?(?:(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,4}))?)?([+-]\d{4})?$/;

function offsetOf(utcGuessMs: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(utcGuessMs));
  const n = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  const asUtc = Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second'));
  const mins = Math.round((asUtc - utcGuessMs) / 60000);
  const sign = mins < 0 ? '-' : '+';
  const abs = Math.abs(mins);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

function validDay(y: number, m: number, d: number): boolean {
  const dt = new Date(Date.UTC(y, m - 1, d));
  return dt.getUTCFullYear() === y && dt.getUTCMonth() === m - 1 && dt.getUTCDate() === d;
}

/**
 * Converts an HL7 time to FHIR. Times without an offset are read in `timeZone`
 * (FHIR requires an offset whenever a time is given).
 */
export function hl7ToFhirDateTime(value: string, timeZone = 'America/New_York'): string | undefined {
  const m = TS.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, hh, mi, ss, frac, tz] = m;
  const year = Number(y);
  if (year < 1800 || year > 2200) return undefined;
  if (!mo) return y;
  if (Number(mo) < 1 || Number(mo) > 12) return undefined;
  if (!d) return `${y}-${mo}`;
  if (!validDay(year, Number(mo), Number(d))) return undefined;
  const date = `${y}-${mo}-${d}`;
  if (!hh) return date;
  if (Number(hh) > 23 || Number(mi ?? 0) > 59 || Number(ss ?? 0) > 59) return undefined;
  const time = `${hh}:${mi ?? '00'}:${ss ?? '00'}${frac ? `.${frac}` : ''}`;
  const offset = tz ? `${tz.slice(0, 3)}:${tz.slice(3)}` : offsetOf(Date.parse(`${date}T${time}Z`), timeZone);
  return `${date}T${time}${offset}`;
}

/** HL7 DT (or TS truncated to the day) → FHIR date. */
export function hl7ToFhirDate(value: string): string | undefined {
  const dt = hl7ToFhirDateTime(value.trim().slice(0, 8));
  return dt && /^\d{4}-\d{2}-\d{2}$/.test(dt) ? dt : dt && dt.length < 10 ? dt : undefined;
}
