import type { Hl7Segment } from '@medplum/core';
import type { Identifier} from '@medplum/fhirtypes';
import { reps } from '../fields.ts';
import { Hl7ErrorCode, type Hl7Error } from '../types.ts';
import type { BundleBuilder, Ref } from './context.ts';
import { cxIdentifier } from './datatypes.ts';
import { addPatient, isError, matchIdentifier, SSN_SYSTEM } from './common.ts';

/** "Merge the patient known by `retired` into the one known by `survivor`" — executed by the MPI. */
export interface MergeInstruction {
  /** PID-3: the identifier that survives. */
  survivor: Identifier;
  /** MRG-1: the identifier (and record) being merged away. */
  retired: Identifier;
  /** All MRG-1 repetitions, for MPIs that match on any of them. */
  retiredAll: Identifier[];
  sourceFacility: string;
}

function mrgIdentifiers(mrg: Hl7Segment, facility: string): Identifier[] {
  return reps(mrg, 1).map((c) => (c(5) === 'SS' ? { system: SSN_SYSTEM, value: c(1) } : cxIdentifier(c, facility))).filter((i): i is Identifier => !!i);
}

/** ADT^A40: each PID/MRG pair becomes a MergeInstruction; the surviving Patient is upserted too. */
export function mapMerge(b: BundleBuilder, org: Ref): MergeInstruction[] | Hl7Error {
  const segs = b.parsed.message.segments;
  const merges: MergeInstruction[] = [];
  let pidIndex = 0;
  for (let i = 0; i < segs.length; i++) {
    if (segs[i].name !== 'PID') continue;
    pidIndex += 1;
    const mrg = segs.slice(i + 1).find((s, j, arr) => s.name === 'MRG' && arr.slice(0, j).every((x) => x.name !== 'PID'));
    if (!mrg) return { code: Hl7ErrorCode.SegmentSequence, ackCode: 'AE', reason: `MRG segment missing after PID ${pidIndex}`, location: { segment: 'MRG', sequence: pidIndex } };
    const patient = addPatient(b, segs[i], org, `patient:${pidIndex}`);
    if (isError(patient)) return { ...patient, location: { segment: 'PID', sequence: pidIndex, field: 3 } };
    const retiredAll = mrgIdentifiers(mrg, b.header.facilityKey);
    const retired = matchIdentifier(retiredAll);
    if (!retired) return { code: Hl7ErrorCode.RequiredFieldMissing, ackCode: 'AE', reason: 'MRG-1 prior patient identifier missing', location: { segment: 'MRG', sequence: pidIndex, field: 1 } };
    const [system, ...rest] = patient.key.split('|');
    merges.push({ survivor: { system, value: rest.join('|') }, retired, retiredAll, sourceFacility: b.header.facilityKey });
  }
  if (!merges.length) return { code: Hl7ErrorCode.SegmentSequence, ackCode: 'AE', reason: 'PID segment missing', location: { segment: 'PID' } };
  return merges;
}
