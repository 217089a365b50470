/** The record with its tabs: summary plus one tab per kind of information. */
import { useState } from 'react';
import type { RecordModel } from '../record/record-model.ts';
import { Tabs, type TabDef } from '../components/tabs.tsx';
import { Summary } from './summary.tsx';
import { AllergyList, EncounterList, ImmunizationList, MedicationList, ProblemList, ProcedureList } from './lists.tsx';
import { ResultsTab } from './results-tab.tsx';
import { DocumentsTab } from './documents-tab.tsx';
import { ResultsTable } from './results-table.tsx';

function tabsFor(r: RecordModel): TabDef[] {
  return [
    { id: 'summary', label: 'Summary', render: () => <Summary record={r} /> },
    { id: 'problems', label: `Problems (${r.conditions.length})`, render: () => <ProblemList items={r.conditions} /> },
    { id: 'medications', label: `Medications (${r.medications.length})`, render: () => <MedicationList items={r.medications} /> },
    { id: 'allergies', label: `Allergies (${r.allergies.length})`, render: () => <AllergyList items={r.allergies} /> },
    { id: 'results', label: `Results (${r.labs.length})`, render: () => <ResultsTab labs={r.labs} /> },
    { id: 'vitals', label: `Vital signs (${r.vitals.length})`, render: () => <ResultsTab labs={r.vitals} /> },
    { id: 'encounters', label: `Visits (${r.encounters.length})`, render: () => <EncounterList items={r.encounters} /> },
    { id: 'immunizations', label: `Immunizations (${r.immunizations.length})`, render: () => <ImmunizationList items={r.immunizations} /> },
    { id: 'procedures', label: `Procedures (${r.procedures.length})`, render: () => <ProcedureList items={r.procedures} /> },
    { id: 'documents', label: `Documents (${r.documents.length + r.reports.filter((x) => x.presentedForm?.length || x.conclusion).length})`, render: () => <DocumentsTab documents={r.documents} reports={r.reports} /> },
    { id: 'other', label: `Other (${r.otherObservations.length})`, render: () => <ResultsTable items={r.otherObservations} /> },
  ];
}

export function RecordTabs({ record }: { record: RecordModel }) {
  const [active, setActive] = useState('summary');
  return <Tabs label="Record sections" tabs={tabsFor(record)} active={active} onChange={setActive} />;
}
