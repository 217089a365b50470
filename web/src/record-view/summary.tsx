/** The record summary: allergies, active problems and medications, recent visits and results, immunizations. */
import type { ReactNode } from 'react';
import { isActiveAllergy, isActiveCondition, isActiveMedication, type RecordModel } from '../record/record-model.ts';
import { AllergyList, EncounterList, ImmunizationList, MedicationList, ProblemList } from './lists.tsx';
import { RecentResults } from './recent-results.tsx';

function Card({ title, children }: { title: string; children: ReactNode }) {
  return (
    <section className="card" aria-label={title}>
      <h3>{title}</h3>
      {children}
    </section>
  );
}

export function Summary({ record }: { record: RecordModel }) {
  return (
    <div className="summary-grid">
      <Card title="Allergies"><AllergyList items={record.allergies.filter(isActiveAllergy)} /></Card>
      <Card title="Active problems"><ProblemList items={record.conditions.filter(isActiveCondition)} /></Card>
      <Card title="Active medications"><MedicationList items={record.medications.filter(isActiveMedication)} /></Card>
      <Card title="Recent visits"><EncounterList items={record.encounters} limit={5} /></Card>
      <Card title="Recent results"><RecentResults items={record.labs} limit={8} /></Card>
      <Card title="Immunizations"><ImmunizationList items={record.immunizations} limit={8} /></Card>
    </div>
  );
}
