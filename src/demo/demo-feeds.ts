import type { Patient } from '@medplum/fhirtypes';
import { receiveHl7 } from '../ingest/hl7v2-pipeline.ts';
import type { Services } from '../services.ts';

const ts = (d: Date) => d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
const day = (d: Date) => ts(d).slice(0, 8);
const ago = (days: number) => new Date(Date.now() - days * 86_400_000);

function pid(p: Patient, mrn: string, facility: string, given?: string): string {
  const n = p.name?.[0];
  const a = p.address?.[0];
  return `PID|1||${mrn}^^^${facility}^MR||${n?.family ?? ''}^${given ?? n?.given?.[0] ?? ''}||${(p.birthDate ?? '').replace(/-/g, '')}|${p.gender === 'female' ? 'F' : p.gender === 'male' ? 'M' : 'U'}|||${a?.line?.[0] ?? ''}^^${a?.city ?? ''}^${a?.state ?? ''}^${a?.postalCode ?? ''}`;
}

function msh(facility: string, type: string, id: string, at: Date): string {
  return `MSH|^~\\&|DEMO|${facility}|KATAHDIN|HIE|${ts(at)}||${type}|${id}|P|2.5.1`;
}

/**
 * What makes the demo show the HIE's point: current visits at Downeast (so dr.demo has care relationships),
 * the first patient also known at Aroostook Valley under another MRN (the MPI links them), an HIV viral load from
 * the regional lab and a depression diagnosis (withheld until shared or break-the-glass), all sent as HL7 v2.
 */
export function demoMessages(patients: Patient[]): string[] {
  const out: string[] = [];
  patients.forEach((p, i) => {
    const at = ago(20 + i);
    out.push([msh('DMC', 'ADT^A04^ADT_A01', `DEMO-DMC-${i}`, at), 'EVN|A04', pid(p, `DMC-${1000 + i}`, 'DMC'), `PV1|1|O|CLINIC^^^DMC||||1234^Demo^Dana|||||||||||V-DMC-${i}|||||||||||||||||||||||||${ts(at)}`].join('\r'));
  });
  const first = patients[0];
  if (!first) return out;
  const avc = ago(40);
  out.push([msh('AVC', 'ADT^A04^ADT_A01', 'DEMO-AVC-1', avc), 'EVN|A04', pid(first, 'AVC-77001', 'AVC'), `PV1|1|O|FAMILY^^^AVC|||||||||||||||V-AVC-1|||||||||||||||||||||||||${ts(avc)}`, `DG1|1||F32.9^Major depressive disorder, single episode, unspecified^I10||${ts(avc)}|F`].join('\r'));
  const lab = ago(35);
  out.push([msh('PRL', 'ORU^R01^ORU_R01', 'DEMO-PRL-1', lab), pid(first, 'PRL-5501', 'PRL'), `OBR|1|ORD-5501|FIL-5501|25836-8^HIV 1 RNA viral load^LN|||${ts(lab)}`, `OBX|1|NM|25836-8^HIV 1 RNA [#/volume] (viral load) in Serum or Plasma by NAA with probe detection^LN||48|copies/mL|<20|H|||F|||${ts(lab)}`].join('\r'));
  patients.slice(0, 4).forEach((p, i) => {
    const at = ago(60 + i * 30);
    out.push([msh('PRL', 'ORU^R01^ORU_R01', `DEMO-PRL-A1C-${i}`, at), pid(p, `PRL-${6000 + i}`, 'PRL'), `OBR|1|ORD-A${i}|FIL-A${i}|4548-4^Hemoglobin A1c^LN|||${ts(at)}`, `OBX|1|NM|4548-4^Hemoglobin A1c/Hemoglobin.total in Blood^LN||${(5.6 + i * 0.4).toFixed(1)}|%|4.0-5.6|${i > 0 ? 'H' : 'N'}|||F|||${day(at)}`].join('\r'));
  });
  return out;
}

export async function sendDemoMessages(s: Services, patients: Patient[]): Promise<{ accepted: number; failed: number }> {
  let accepted = 0;
  let failed = 0;
  for (const raw of demoMessages(patients)) {
    const r = await receiveHl7(s, raw, 'mllp');
    if (r.status === 'processed') accepted++;
    else failed++;
  }
  return { accepted, failed };
}
