import { describe, expect, it } from 'vitest';
import type { Observation, Patient } from '@medplum/fhirtypes';
import { requiredBindingIssues } from './required-bindings.ts';

describe('required bindings', () => {
  it('accepts codes in the required value set', () => {
    expect(requiredBindingIssues({ resourceType: 'Patient', gender: 'female' } as Patient)).toEqual([]);
    expect(requiredBindingIssues({ resourceType: 'Observation', status: 'final', code: { text: 'x' } } as Observation)).toEqual([]);
  });

  it('reports codes outside the value set with a FHIRPath location', () => {
    const issues = requiredBindingIssues({ resourceType: 'Patient', gender: 'sometimes', contact: [{ gender: 'x' }] } as unknown as Patient);
    expect(issues.map((i) => i.expression?.[0])).toEqual(['Patient.gender', 'Patient.contact[0].gender']);
    expect(issues[0].code).toBe('code-invalid');
  });
});
