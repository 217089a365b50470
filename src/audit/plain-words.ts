/** Plain-language wording for the patient access report. Pure. */

const NOUNS: Record<string, string> = {
  Patient: 'demographics',
  Person: 'demographics',
  RelatedPerson: 'contacts',
  Observation: 'test results and measurements',
  DiagnosticReport: 'lab results',
  Condition: 'health problems',
  AllergyIntolerance: 'allergies',
  MedicationRequest: 'medications',
  MedicationStatement: 'medications',
  MedicationAdministration: 'medications',
  MedicationDispense: 'medications',
  Medication: 'medications',
  Immunization: 'immunizations',
  Procedure: 'procedures',
  Encounter: 'visits',
  EpisodeOfCare: 'visits',
  DocumentReference: 'documents',
  Composition: 'documents',
  Binary: 'documents',
  CarePlan: 'care plans',
  CareTeam: 'care team',
  Goal: 'care plans',
  ServiceRequest: 'orders and referrals',
  Coverage: 'insurance',
  Consent: 'privacy choices',
  FamilyMemberHistory: 'family history',
  Device: 'devices',
};

const CATEGORY_NOUNS: Record<string, string> = {
  laboratory: 'lab results',
  'vital-signs': 'vital signs',
  'social-history': 'social history',
  imaging: 'imaging results',
};

/** The resource type a search query names (`Observation?…`, `/fhir/Observation?…`). */
export function queryType(query: string | undefined): string | undefined {
  const path = query?.split('?')[0] ?? '';
  const last = path.split('/').filter(Boolean).pop();
  return last && /^[A-Z][A-Za-z]+$/.test(last) ? last : undefined;
}

function queryCategoryNoun(query: string | undefined): string | undefined {
  const params = new URLSearchParams(query?.split('?')[1] ?? '');
  const category = params.get('category')?.split('|').pop();
  return category ? CATEGORY_NOUNS[category] : undefined;
}

/** "lab results", "medications and allergies", "health records" — what an event touched, in words. */
export function whatWasTouched(entityRefs: string[], query?: string): string {
  const fromQuery = queryCategoryNoun(query) ?? (queryType(query) ? NOUNS[queryType(query)!] ?? 'health records' : undefined);
  const nouns = new Set<string>(fromQuery ? [fromQuery] : []);
  for (const ref of entityRefs) nouns.add(NOUNS[ref.split('/')[0]] ?? 'health records');
  // A report's observations are its results: say "lab results" once.
  if (nouns.has(NOUNS.DiagnosticReport)) nouns.delete(NOUNS.Observation);
  const list = [...nouns];
  if (list.length === 0) return 'health records';
  return list.length === 1 ? list[0] : `${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}`;
}

/** The action of one audit event as a patient would say it. */
export function actionInWords(action: string, entityRefs: string[], query?: string): string {
  const what = () => whatWasTouched(entityRefs, query);
  switch (action) {
    case 'read':
    case 'vread': return `viewed ${what()}`;
    case 'search': return `searched ${what()}`;
    case 'history': return `viewed earlier versions of ${what()}`;
    case 'everything': return 'viewed the whole record';
    case 'export': return 'exported the record';
    case 'notify': return `was sent ${what()} by notification`;
    case 'document':
    case 'binary': return 'downloaded a document';
    case 'match': return 'looked up identity';
    case 'break-glass': return 'emergency access';
    default: return `accessed ${what()}`;
  }
}

const PURPOSES: Record<string, string> = {
  TREAT: 'treatment',
  ETREAT: 'emergency treatment',
  HOPERAT: 'health care operations',
  PATRQT: 'patient request',
  HSYSADMIN: 'system administration',
};

export function purposeInWords(code: string | null | undefined): string {
  return code ? PURPOSES[code] ?? code : 'not stated';
}

const ROLES: Record<string, string> = {
  clinician: 'Clinician',
  'clinical-staff': 'Clinical staff',
  registrar: 'Registrar',
  'privacy-officer': 'Privacy officer',
  admin: 'HIE administrator',
  system: 'Computer system',
  patient: 'Patient',
};

export function roleInWords(role: string): string {
  return ROLES[role] ?? role;
}
