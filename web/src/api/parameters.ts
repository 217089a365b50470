/** Reading and writing FHIR Parameters resources. */
import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';

type Value = Omit<ParametersParameter, 'name'>;

function values(p: Parameters, name: string): ParametersParameter[] {
  return (p.parameter ?? []).filter((x) => x.name === name);
}

export function paramString(p: Parameters, name: string): string | undefined {
  const v = values(p, name)[0];
  return v?.valueDateTime ?? v?.valueDate ?? v?.valueInstant ?? v?.valueString ?? v?.valueCode;
}

export function paramBool(p: Parameters, name: string): boolean | undefined {
  return values(p, name)[0]?.valueBoolean;
}

export function paramCodes(p: Parameters, name: string): string[] {
  return values(p, name).flatMap((v) => (v.valueCode ?? v.valueString ? [(v.valueCode ?? v.valueString) as string] : []));
}

/** Builds Parameters, skipping undefined values. */
export function paramsOf(entries: [string, Value | undefined][]): Parameters {
  return {
    resourceType: 'Parameters',
    parameter: entries.flatMap(([name, v]) => (v ? [{ name, ...v }] : [])),
  };
}
