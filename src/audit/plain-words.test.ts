import { describe, expect, it } from 'vitest';
import { actionInWords, purposeInWords, queryType, roleInWords } from './plain-words.ts';

describe('plain words', () => {
  it.each([
    ['read', ['Observation/1'], undefined, 'viewed test results and measurements'],
    ['read', ['MedicationRequest/1', 'AllergyIntolerance/2'], undefined, 'viewed medications and allergies'],
    ['read', ['Condition/1', 'Procedure/2', 'Immunization/3'], undefined, 'viewed health problems, procedures and immunizations'],
    ['search', [], 'Patient?family=roe', 'searched demographics'],
    ['search', [], '/fhir/Observation?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs', 'searched vital signs'],
    ['search', [], 'Unknownthing?x=1', 'searched health records'],
    ['everything', [], undefined, 'viewed the whole record'],
    ['binary', ['Binary/1'], undefined, 'downloaded a document'],
    ['break-glass', [], undefined, 'emergency access'],
    ['history', ['Patient/1'], undefined, 'viewed earlier versions of demographics'],
  ])('%s %j %s → %s', (action, refs, query, words) => {
    expect(actionInWords(action, refs, query)).toBe(words);
  });

  it('words purposes and roles, passing unknown codes through', () => {
    expect(purposeInWords('ETREAT')).toBe('emergency treatment');
    expect(purposeInWords(null)).toBe('not stated');
    expect(purposeInWords('XYZ')).toBe('XYZ');
    expect(roleInWords('clinical-staff')).toBe('Clinical staff');
    expect(queryType('https://x/fhir/Patient?x=1')).toBe('Patient');
    expect(queryType('$everything')).toBeUndefined();
  });
});
