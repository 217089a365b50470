import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import { badRequest } from '../fhir/outcome.ts';

/** Reads a named parameter's value from a FHIR Parameters body (or a plain JSON object, for convenience). */
export function param(body: unknown, name: string): ParametersParameter | undefined {
  const b = body as Parameters | Record<string, unknown> | undefined;
  if (!b || typeof b !== 'object') return undefined;
  if ((b as Parameters).resourceType === 'Parameters') return (b as Parameters).parameter?.find((p) => p.name === name);
  const v = (b as Record<string, unknown>)[name];
  return v === undefined ? undefined : { name, valueString: String(v) };
}

export function stringParam(body: unknown, name: string, required = false): string | undefined {
  const p = param(body, name);
  const v = p?.valueString ?? p?.valueCode ?? p?.valueDate ?? p?.valueDateTime ?? p?.valueUri;
  if (required && (!v || !String(v).trim())) throw badRequest(`The "${name}" parameter is required.`, [name]);
  return v === undefined ? undefined : String(v).trim().slice(0, 1000);
}

export function parameters(values: Record<string, string | boolean | number | string[] | undefined>): Parameters {
  const parameter: ParametersParameter[] = [];
  for (const [name, v] of Object.entries(values)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) parameter.push({ name, valueCode: x });
    else if (typeof v === 'boolean') parameter.push({ name, valueBoolean: v });
    else if (typeof v === 'number') parameter.push({ name, valueInteger: v });
    else if (/^\d{4}-\d{2}-\d{2}T/.test(v)) parameter.push({ name, valueDateTime: v });
    else parameter.push({ name, valueString: v });
  }
  return { resourceType: 'Parameters', parameter };
}
