import { describe, expect, it } from 'vitest';
import { reasonFor, type BreakGlassGrant } from './review.ts';

const grants: BreakGlassGrant[] = [
  { id: 'g-1', user_id: 'u1', person_id: 'p1', reason: 'Unresponsive in the emergency department', created_at: '2026-12-06T10:00:00.000Z' },
  { id: 'g-2', user_id: 'u1', person_id: 'p1', reason: 'Second visit', created_at: '2026-12-06T18:00:00.000Z' },
  { id: 'g-3', user_id: 'u2', person_id: 'p1', reason: 'Another clinician', created_at: '2026-12-06T10:00:00.000Z' },
];

describe('reasonFor (break-the-glass review queue)', () => {
  it('takes the grant the audit detail names', () => {
    expect(reasonFor({ detail: 'break-the-glass g-2 until …', agentUserId: 'u1', personIds: ['p1'], time: '2026-12-06T10:00:01.000Z' }, grants)).toBe('Second visit');
  });

  it('finds the grant of the same user and person closest in time when the id in the detail was masked as SSN-like', () => {
    const item = { detail: 'break-the-glass 7c1f0a2e-#########1-4a5b until …', agentUserId: 'u1', personIds: ['p1'], time: '2026-12-06T10:00:01.000Z' };
    expect(reasonFor(item, grants)).toBe('Unresponsive in the emergency department');
    expect(reasonFor({ ...item, agentUserId: 'u2' }, grants)).toBe('Another clinician');
    expect(reasonFor({ ...item, agentUserId: 'u3' }, grants)).toBeUndefined();
  });
});
