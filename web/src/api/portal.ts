/** Patient portal calls: sign-up with identity verification, the signed-in patient, audit requests. */
import { requestJson } from './http.ts';
import type { AuditRequest, PortalMe } from './types.ts';

export interface SignupStart {
  given: string;
  family: string;
  birthDate: string;
  postalCode: string;
  username: string;
  password: string;
}

export function startSignup(body: SignupStart): Promise<{ message: string }> {
  return requestJson('/portal/signup/start', { method: 'POST', body });
}

export function verifySignup(username: string, code: string): Promise<{ username: string }> {
  return requestJson('/portal/signup/verify', { method: 'POST', body: { username, code } });
}

export function me(): Promise<PortalMe> {
  return requestJson<PortalMe>('/portal/me');
}

export function requestAudit(): Promise<AuditRequest> {
  return requestJson('/portal/audit-requests', { method: 'POST', body: {} });
}

export function myAuditRequests(): Promise<AuditRequest[]> {
  return requestJson<AuditRequest[]>('/portal/audit-requests');
}
