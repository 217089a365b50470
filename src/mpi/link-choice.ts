// Which person a record joins, given its scored candidates: the link store's decision, pure so batch linking shares it.
import type { decide } from './decide.ts';
import type { ScoreResult } from './model.ts';
import type { MpiRecord } from './normalize.ts';

export interface Candidate {
  patientId: string;
  personId: string;
  record: MpiRecord;
  result: ScoreResult;
  decision: ReturnType<typeof decide>;
}

/** Why a pair went to review when both sides would auto-link to different persons. */
export const AMBIGUOUS_PERSONS = 'ambiguous-persons';

/** What the choice looks at; the batch linker's candidates carry a record index instead of the record. */
export type ScoredPerson = Pick<Candidate, 'personId' | 'result' | 'decision'>;

export interface LinkChoice<C extends ScoredPerson = Candidate> {
  /** The auto-link to follow, if exactly one person qualifies. */
  best?: C;
  /** Pairs for the review queue, with the reason each was not linked automatically. */
  tasks: Array<{ candidate: C; reason: string }>;
  /** How many distinct persons the auto-link candidates belong to. */
  autoLinkPersons: number;
}

/**
 * Picks the person a record joins. Auto-link candidates in two or more persons would silently pick one of two
 * people (or merge them transitively in a batch); instead none is followed and each goes to review
 * (`ambiguous-persons`), the record staying where it was (or alone).
 */
export function chooseLink<C extends ScoredPerson>(candidates: readonly C[], currentPersonId: string | undefined): LinkChoice<C> {
  const autos = candidates.filter((c) => c.decision.decision === 'auto-link').sort((a, b) => b.result.weight - a.result.weight);
  const persons = new Set(autos.map((c) => c.personId));
  const best = persons.size === 1 ? autos[0] : undefined;
  const home = best?.personId ?? currentPersonId;
  const tasks = candidates
    .filter((c) => c.personId !== home && c.decision.decision !== 'no-match')
    .map((c) => ({ candidate: c, reason: c.decision.decision === 'auto-link' ? AMBIGUOUS_PERSONS : c.decision.reason }));
  return { best, tasks, autoLinkPersons: persons.size };
}
