/** Admin and privacy console calls (role-checked on the server). */
import { requestJson } from './http.ts';
import type {
  Attestation, AuditRequest, BreakGlassEvent, ClientSummary, IngestError, IngestStats, MpiTask, NewClient, NewUser, UnusualAccessReport, UserSummary,
} from './types.ts';

const post = <T>(path: string, body: unknown): Promise<T> => requestJson<T>(path, { method: 'POST', body });

export const mpiTasks = (): Promise<MpiTask[]> => requestJson('/admin/mpi/tasks?status=open');
export const decideMpiTask = (id: string, decision: 'link' | 'not-link'): Promise<{ status: string }> =>
  post(`/admin/mpi/tasks/${encodeURIComponent(id)}`, { decision });
export const unlinkPatient = (patientId: string): Promise<unknown> => post('/admin/mpi/unlink', { patientId });
export const mergePersons = (sourcePersonId: string, targetPersonId: string): Promise<{ personId: string }> =>
  post('/admin/mpi/merge', { sourcePersonId, targetPersonId });

export const ingestStats = (): Promise<IngestStats> => requestJson('/admin/ingest/stats');
export const ingestErrors = (): Promise<IngestError[]> => requestJson('/admin/ingest/errors');
export const ingestError = (id: string): Promise<IngestError> => requestJson(`/admin/ingest/errors/${encodeURIComponent(id)}`);
export const retryIngestError = (id: string): Promise<{ status: string }> =>
  post(`/admin/ingest/errors/${encodeURIComponent(id)}/retry`, {});

export const listUsers = (): Promise<UserSummary[]> => requestJson('/admin/users');
export const addUser = (user: NewUser): Promise<unknown> => post('/admin/users', user);
export const listClients = (): Promise<ClientSummary[]> => requestJson('/admin/clients');
/** Disabling cuts the account off at once: its sessions end and its access tokens are refused. */
export const setUserDisabled = (username: string, disabled: boolean): Promise<unknown> =>
  requestJson(`/admin/users/${encodeURIComponent(username)}/disabled`, { method: 'PUT', body: { disabled } });
export const setClientDisabled = (clientId: string, disabled: boolean): Promise<unknown> =>
  requestJson(`/admin/clients/${encodeURIComponent(clientId)}/disabled`, { method: 'PUT', body: { disabled } });
export const addClient = (client: NewClient): Promise<unknown> => post('/admin/clients', client);

export const breakGlassEvents = (): Promise<BreakGlassEvent[]> => requestJson('/admin/break-glass');
/** Marks a break-the-glass declaration or an attestation reviewed (one review queue, keyed by the audit entry). */
export const reviewItem = (seq: number, notes: string): Promise<unknown> =>
  post(`/admin/break-glass/${seq}/review`, { notes });
export const attestations = async (): Promise<Attestation[]> => (await requestJson<{ reviews: Attestation[] }>('/admin/attestations')).reviews;
export const unusualAccess = (from: string, to: string, threshold: number): Promise<UnusualAccessReport> =>
  requestJson(`/admin/unusual-access?${new URLSearchParams({ from, to, threshold: String(threshold) })}`);

export const auditRequests = (): Promise<AuditRequest[]> => requestJson('/admin/audit-requests');
export const enterAuditRequest = (patientId: string, channel: 'paper' | 'phone'): Promise<AuditRequest> =>
  post('/admin/audit-requests', { patientId, channel });
export const fulfilAuditRequest = (id: string): Promise<{ status: string }> =>
  post(`/admin/audit-requests/${encodeURIComponent(id)}/fulfil`, {});
