/**
 * Synthetic HL7 v2 messages with chosen control ids and MRNs (tests, crash test). Segments are CR-separated.
 * Content is invented; no corpus PHI.
 */
export const FACILITY = 'KTEST';

const msh = (type: string, controlId: string, facility = FACILITY) => `MSH|^~\\&|EHR|${facility}|KATAHDIN|HIE|20260115120000-0500||${type}|${controlId}|P|2.5.1`;
const pid = (mrn: string, family: string) => `PID|1||${mrn}^^^${FACILITY}^MR||${family}^ALEX^J||19800215|F|||12 MAIN ST^^BANGOR^ME^04401||^PRN^PH^^^207^5550100`;

export function adtA01(controlId: string, mrn: string, family = 'TESTER'): string {
  return [
    msh('ADT^A01^ADT_A01', controlId),
    `EVN|A01|20260115115500-0500`,
    pid(mrn, family),
    `PV1|1|I|WARD1^101^A^${FACILITY}||||1234^WELBY^MARCUS^^^^MD||||||||||||V${mrn}^^^${FACILITY}^VN|||||||||||||||||||||||||20260115110000-0500`,
  ].join('\r');
}

export function oruR01(controlId: string, mrn: string, family = 'TESTER'): string {
  return [
    msh('ORU^R01^ORU_R01', controlId),
    pid(mrn, family),
    `ORC|RE|P${controlId}^EHR|F${controlId}^LAB^1.2.3^ISO`,
    `OBR|1|P${controlId}^EHR|F${controlId}^LAB^1.2.3^ISO|24323-8^Comprehensive metabolic panel^LN|||20260115080000-0500|||||||||||||||20260115110000-0500|||F`,
    `OBX|1|NM|2345-7^Glucose^LN||182|mg/dL^mg/dL^UCUM|70-99|H|||F`,
    `OBX|2|NM|2160-0^Creatinine^LN||0.9|mg/dL^mg/dL^UCUM|0.6-1.3|N|||F`,
  ].join('\r');
}

/** Parses (valid MSH) but cannot be mapped: an ADT^A01 whose PID has no patient identifier (PID-3). */
export function unmappableAdt(controlId: string): string {
  return [msh('ADT^A01^ADT_A01', controlId), 'EVN|A01', 'PID|1||||NOID^PAT', 'PV1|1|I'].join('\r');
}
