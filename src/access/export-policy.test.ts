import { describe, expect, it } from 'vitest';
import { FhirError } from '../fhir/outcome.ts';
import type { AccessContext, Role } from './context.ts';
import { exportPurpose } from './export-policy.ts';
import { BULK_EXPORT_SCOPE, QUERY_ROLE_SCOPE } from './scopes.ts';

const ctx = (role: Role, scopes: string[] = [], purposeOfUse: AccessContext['purposeOfUse'] = 'TREAT'): AccessContext =>
  ({ role, scopes, purposeOfUse, displayName: role, clientId: 'c', organizationId: 'org' });

const refusal = (c: AccessContext) => {
  try {
    exportPurpose(c);
    return undefined;
  } catch (err) {
    return err instanceof FhirError ? err : undefined;
  }
};

describe('exportPurpose (privacy-rules §7)', () => {
  it('administrators export for operations, patients for their own request, enabled systems for their purpose', () => {
    expect(exportPurpose(ctx('admin', [], 'HSYSADMIN'))).toBe('HOPERAT');
    expect(exportPurpose(ctx('patient', [], 'PATRQT'))).toBe('PATRQT');
    expect(exportPurpose(ctx('system', ['system/*.rs', QUERY_ROLE_SCOPE, BULK_EXPORT_SCOPE]))).toBe('TREAT');
  });

  it('refuses systems no administrator enabled, other purposes, and every other role', () => {
    expect(refusal(ctx('system', ['system/*.cruds', QUERY_ROLE_SCOPE]))?.message).toContain(BULK_EXPORT_SCOPE);
    expect(refusal(ctx('system', [BULK_EXPORT_SCOPE], 'HSYSADMIN'))?.status).toBe(403);
    for (const role of ['clinician', 'clinical-staff', 'registrar', 'privacy-officer'] as const) {
      expect(refusal(ctx(role, [BULK_EXPORT_SCOPE]))?.status, role).toBe(403);
    }
  });
});
