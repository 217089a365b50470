import type { Organization } from '@medplum/fhirtypes';

export const FACILITY_SYSTEM = 'urn:katahdin:facility';

/** The demo exchange: two hospitals/clinics in different towns and a regional lab. */
export const DEMO_ORGANIZATIONS: Array<Organization & { id: string }> = [
  { resourceType: 'Organization', id: 'org-dmc', name: 'Downeast Medical Center', identifier: [{ system: FACILITY_SYSTEM, value: 'DMC' }], active: true, address: [{ city: 'Ellsworth', state: 'ME' }] },
  { resourceType: 'Organization', id: 'org-avc', name: 'Aroostook Valley Clinic', identifier: [{ system: FACILITY_SYSTEM, value: 'AVC' }], active: true, address: [{ city: 'Presque Isle', state: 'ME' }] },
  { resourceType: 'Organization', id: 'org-prl', name: 'Penobscot Regional Lab', identifier: [{ system: FACILITY_SYSTEM, value: 'PRL' }], active: true, address: [{ city: 'Bangor', state: 'ME' }] },
];

export const DEMO_PASSWORD = 'katahdin-demo';

export interface DemoUser {
  username: string;
  displayName: string;
  role: 'clinician' | 'clinical-staff' | 'registrar' | 'privacy-officer' | 'admin' | 'patient';
  organizationId?: string;
}

export const DEMO_USERS: DemoUser[] = [
  { username: 'admin', displayName: 'Alex Admin', role: 'admin', organizationId: 'org-dmc' },
  { username: 'dr.demo', displayName: 'Dr. Dana Demo', role: 'clinician', organizationId: 'org-dmc' },
  { username: 'nurse.demo', displayName: 'Nora Nurse', role: 'clinical-staff', organizationId: 'org-dmc' },
  { username: 'dr.other', displayName: 'Dr. Owen Other', role: 'clinician', organizationId: 'org-avc' },
  { username: 'registrar.demo', displayName: 'Riley Registrar', role: 'registrar', organizationId: 'org-dmc' },
  { username: 'privacy.demo', displayName: 'Pat Privacy', role: 'privacy-officer', organizationId: 'org-dmc' },
];
