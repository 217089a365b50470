import type { CcdaId } from '@medplum/ccda';
import type {
  AllergyIntolerance,
  Condition,
  Encounter,
  Immunization,
  MedicationStatement,
  Observation,
  Patient,
  Procedure,
  Reference,
} from '@medplum/fhirtypes';

export type ClinicalResource =
  | AllergyIntolerance
  | Condition
  | Encounter
  | Immunization
  | MedicationStatement
  | Observation
  | Procedure;

/** What entry mappers need from the conversion: the patient, and a collector that keys and de-duplicates. */
export interface EntryContext {
  readonly patient: Reference<Patient>;
  /**
   * Adds a clinical resource identified by its CDA ids (or, without a usable id, by a hash of
   * `hashParts`). Returns its fullUrl, or the fullUrl of the same item already added (the repeat is merged into it).
   */
  add(resource: ClinicalResource, ids: CcdaId | CcdaId[] | undefined, hashParts: (string | undefined)[]): string;
  /** Counts an entry that carried no convertible data (e.g. a nullFlavor placeholder). */
  skip(reason: string): void;
}
