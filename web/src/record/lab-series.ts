/** Builds per-analyte numeric series (with reference range) for the trend charts. Pure. */
import type { Observation } from '@medplum/fhirtypes';
import { clinicalDate, sourceName } from './source.ts';
import { conceptKey, conceptText } from './display.ts';

export interface LabPoint {
  time: number;
  date: string;
  value: number;
  source: string;
  abnormal: boolean;
}

export interface LabSeries {
  key: string;
  name: string;
  unit: string;
  low?: number;
  high?: number;
  points: LabPoint[];
}

const ABNORMAL = new Set(['H', 'HH', 'L', 'LL', 'A', 'AA', 'HU', 'LU']);

function isAbnormal(o: Observation, value: number, low?: number, high?: number): boolean {
  const flag = o.interpretation?.[0]?.coding?.[0]?.code;
  if (flag) return ABNORMAL.has(flag);
  return (low !== undefined && value < low) || (high !== undefined && value > high);
}

function seriesFor(map: Map<string, LabSeries>, o: Observation): LabSeries {
  const key = conceptKey(o.code);
  let s = map.get(key);
  if (!s) {
    const range = o.referenceRange?.[0];
    s = { key, name: conceptText(o.code), unit: o.valueQuantity?.unit ?? o.valueQuantity?.code ?? '', low: range?.low?.value, high: range?.high?.value, points: [] };
    map.set(key, s);
  }
  return s;
}

/** One series per analyte (by code) holding every numeric, dated result, oldest first. */
export function labSeries(observations: Observation[]): LabSeries[] {
  const map = new Map<string, LabSeries>();
  for (const o of observations) {
    const value = o.valueQuantity?.value;
    const date = clinicalDate(o);
    const time = date ? Date.parse(date) : NaN;
    if (value === undefined || Number.isNaN(time)) continue;
    const s = seriesFor(map, o);
    // Same analyte, same time, same value from two sources is one point.
    if (s.points.some((p) => p.time === time && p.value === value)) continue;
    s.points.push({ time, date: date as string, value, source: sourceName(o), abnormal: isAbnormal(o, value, s.low, s.high) });
  }
  const all = [...map.values()];
  for (const s of all) s.points.sort((a, b) => a.time - b.time);
  return all.sort((a, b) => b.points.length - a.points.length || a.name.localeCompare(b.name));
}
