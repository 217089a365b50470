/**
 * Which screens exist, who may see them, and how they appear in the navigation.
 * Screen paths avoid the API prefixes (/fhir, /portal, /admin, /oauth): the server answers those itself, so a reload there would miss the app.
 */
import type { ReactNode } from 'react';
import type { Role } from './api/types.ts';
import { SearchPage } from './clinician/search-page.tsx';
import { RecordPage } from './clinician/record-page.tsx';
import { PortalHome } from './portal/portal-home.tsx';
import { ChoicesPage } from './portal/choices-page.tsx';
import { AuditPage } from './portal/audit-page.tsx';
import { MyRecordPage } from './portal/my-record-page.tsx';
import { MpiPage } from './admin/mpi-page.tsx';
import { IngestPage } from './admin/ingest-page.tsx';
import { UsersPage } from './admin/users-page.tsx';
import { BreakGlassPage } from './admin/break-glass-page.tsx';
import { AttestationsPage } from './admin/attestations-page.tsx';
import { ConsentEntryPage, ConsentSearchPage } from './admin/consent-entry-page.tsx';
import { AuditRequestEntryPage, AuditRequestsPage } from './admin/audit-requests-page.tsx';
import { UnusualAccessPage } from './admin/unusual-access-page.tsx';

export interface RouteDef {
  pattern: string;
  roles: Role[];
  /** Shown in the navigation when set. */
  nav?: string;
  title: string;
  render: (params: Record<string, string>) => ReactNode;
}

const CLINICAL: Role[] = ['clinician', 'clinical-staff'];
const DESK: Role[] = ['registrar', 'privacy-officer'];

export const ROUTES: RouteDef[] = [
  { pattern: '/clinician', roles: CLINICAL, nav: 'Find a patient', title: 'Find a patient', render: () => <SearchPage /> },
  { pattern: '/clinician/patient/:id', roles: CLINICAL, title: 'Patient record', render: (p) => <RecordPage key={p.id} patientId={p.id} /> },
  { pattern: '/patient', roles: ['patient'], nav: 'Home', title: 'Home', render: () => <PortalHome /> },
  { pattern: '/patient/record', roles: ['patient'], nav: 'My health record', title: 'My health record', render: () => <MyRecordPage /> },
  { pattern: '/patient/choices', roles: ['patient'], nav: 'My privacy choices', title: 'My privacy choices', render: () => <ChoicesPage /> },
  { pattern: '/patient/audit', roles: ['patient'], nav: 'Who looked at my record', title: 'Who looked at my record', render: () => <AuditPage /> },
  { pattern: '/console/mpi', roles: ['admin'], nav: 'Matching review', title: 'Patient matching review', render: () => <MpiPage /> },
  { pattern: '/console/ingest', roles: ['admin'], nav: 'Ingestion', title: 'Ingestion monitor', render: () => <IngestPage /> },
  { pattern: '/console/users', roles: ['admin'], nav: 'Users and systems', title: 'Users and systems', render: () => <UsersPage /> },
  { pattern: '/console/break-glass', roles: ['privacy-officer'], nav: 'Break-the-glass review', title: 'Break-the-glass review', render: () => <BreakGlassPage /> },
  { pattern: '/console/attestations', roles: ['privacy-officer'], nav: 'Attestations', title: 'Attestations', render: () => <AttestationsPage /> },
  { pattern: '/console/unusual-access', roles: ['privacy-officer'], nav: 'Unusual access', title: 'Unusual access', render: () => <UnusualAccessPage /> },
  { pattern: '/console/consent', roles: DESK, nav: 'Consent entry', title: 'Consent entry', render: () => <ConsentSearchPage /> },
  { pattern: '/console/consent/:id', roles: DESK, title: 'Consent entry', render: (p) => <ConsentEntryPage key={p.id} patientId={p.id} /> },
  { pattern: '/console/audit-requests', roles: DESK, nav: 'Audit requests', title: 'Audit requests', render: () => <AuditRequestsPage /> },
  { pattern: '/console/audit-requests/patient/:id', roles: DESK, title: 'Audit request', render: (p) => <AuditRequestEntryPage key={p.id} patientId={p.id} /> },
];

export function homeFor(role: Role): string {
  return ROUTES.find((r) => r.nav && r.roles.includes(role))?.pattern ?? '/';
}
