import type { FastifyRequest } from 'fastify';
import { badRequest } from '../fhir/outcome.ts';
import type { ReturnPreference } from '../record/transaction-service.ts';

/** The query string as ordered pairs (repeated parameters are AND in FHIR, so a plain object would lose them). */
export function queryPairs(request: FastifyRequest): Array<[string, string]> {
  const i = request.url.indexOf('?');
  return i < 0 ? [] : [...new URLSearchParams(request.url.slice(i + 1))];
}

export function intParam(pairs: Array<[string, string]>, name: string, fallback: number, max: number): number {
  const raw = pairs.find(([k]) => k === name)?.[1];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw badRequest(`${name} must be a non-negative integer.`);
  return Math.min(n, max);
}

export function isStrict(request: FastifyRequest): boolean {
  const prefer = String(request.headers.prefer ?? '');
  return /handling\s*=\s*strict/i.test(prefer);
}

/** `Prefer: return=minimal | representation | OperationOutcome` (R4); undefined when not asked. */
export function preferredReturn(request: FastifyRequest): ReturnPreference | undefined {
  const value = /return\s*=\s*"?(minimal|representation|OperationOutcome)\b/i.exec(String(request.headers.prefer ?? ''))?.[1].toLowerCase();
  return value === 'operationoutcome' ? 'OperationOutcome' : (value as ReturnPreference | undefined);
}
