import type { Bundle} from '@medplum/fhirtypes';
import { Hl7ErrorCode, type Hl7Error, type Hl7Warning, type ParsedMessage } from '../types.ts';
import { ADT_EVENTS, mapAdt } from './adt.ts';
import { addProvenance, addSourceOrganization } from './common.ts';
import { BundleBuilder, countByType, type MapOptions, type Ref } from './context.ts';
import { MDM_CONTENT_EVENTS, mapMdm } from './mdm.ts';
import { mapMerge, type MergeInstruction } from './merge.ts';
import { mapOrder } from './order.ts';
import { mapOru } from './oru.ts';
import { mapPharmacy, mapRas, mapRde, mapRds } from './pharmacy.ts';
import { mapVxu } from './vxu.ts';

export type { MapOptions } from './context.ts';
export type { MergeInstruction } from './merge.ts';

export interface MapSummary {
  /** `ADT^A01` */
  messageType: string;
  controlId: string;
  facility: string;
  /** Resources per type in the bundle (Organization and Provenance included). */
  counts: Record<string, number>;
  /** Segments skipped without rejecting the message (e.g. a malformed OBX in an ADT). */
  warnings: Hl7Warning[];
}

export type MapResult =
  | { kind: 'bundle'; bundle: Bundle; summary: MapSummary }
  | { kind: 'merge'; merges: MergeInstruction[]; bundle: Bundle; summary: MapSummary }
  | { kind: 'rejected'; error: Hl7Error };

type FamilyMapper = (b: BundleBuilder, org: Ref) => Hl7Error | undefined;

const ADT = new Set<string>(ADT_EVENTS);

/** Picks the mapper for MSH-9; undefined = unsupported (with the right 0357 code). */
function mapperFor(type: string, trigger: string): FamilyMapper | Hl7Error {
  const unsupported = (code: Hl7ErrorCode, what: string): Hl7Error => ({ code, ackCode: 'AR', reason: `${what} not supported`, location: { segment: 'MSH', sequence: 1, field: 9, component: code === Hl7ErrorCode.UnsupportedEventCode ? 2 : 1 } });
  switch (type) {
    case 'ADT': return ADT.has(trigger) ? mapAdt : unsupported(Hl7ErrorCode.UnsupportedEventCode, `event ADT^${trigger}`);
    case 'ORU': return trigger === 'R01' || trigger === '' ? mapOru : unsupported(Hl7ErrorCode.UnsupportedEventCode, `event ORU^${trigger}`);
    case 'VXU': return mapVxu;
    case 'MDM': return MDM_CONTENT_EVENTS.has(trigger) ? mapMdm : unsupported(Hl7ErrorCode.UnsupportedEventCode, `event MDM^${trigger} (notification without content)`);
    case 'RDE': return trigger === 'O11' ? (b, org) => mapPharmacy(b, org, mapRde) : unsupported(Hl7ErrorCode.UnsupportedEventCode, `event RDE^${trigger}`);
    case 'RDS': return (b, org) => mapPharmacy(b, org, mapRds);
    case 'RAS': return (b, org) => mapPharmacy(b, org, mapRas);
    case 'ORM': case 'OML': return mapOrder;
    default: return unsupported(Hl7ErrorCode.UnsupportedMessageType, `message type ${type}`);
  }
}

function summary(b: BundleBuilder, bundle: Bundle): MapSummary {
  const h = b.header;
  return { messageType: `${h.messageType}^${h.triggerEvent}`, controlId: h.controlId, facility: h.facilityKey, counts: countByType(bundle), warnings: [...b.warnings] };
}

function mapUnsafe(parsed: ParsedMessage, options: MapOptions): MapResult {
  const { messageType, triggerEvent } = parsed.header;
  const b = new BundleBuilder(parsed, options);
  if (messageType === 'ADT' && (triggerEvent === 'A40' || triggerEvent === 'A34' || triggerEvent === 'A36')) {
    const org = addSourceOrganization(b);
    const merges = mapMerge(b, org);
    if (!Array.isArray(merges)) return { kind: 'rejected', error: merges };
    addProvenance(b, org);
    const bundle = b.bundle();
    return { kind: 'merge', merges, bundle, summary: summary(b, bundle) };
  }
  const mapper = mapperFor(messageType, triggerEvent);
  if (typeof mapper !== 'function') return { kind: 'rejected', error: mapper };
  const org = addSourceOrganization(b);
  const error = mapper(b, org);
  if (error) return { kind: 'rejected', error };
  addProvenance(b, org);
  const bundle = b.bundle();
  return { kind: 'bundle', bundle, summary: summary(b, bundle) };
}

/**
 * Maps a parsed message to a FHIR transaction bundle (or a merge instruction, or a reasoned rejection).
 * Pure and deterministic for a given `options.now`; never throws.
 */
export function mapMessage(parsed: ParsedMessage, options: MapOptions): MapResult {
  try {
    return mapUnsafe(parsed, options);
  } catch {
    return { kind: 'rejected', error: { code: Hl7ErrorCode.ApplicationInternalError, ackCode: 'AE', reason: 'message could not be mapped' } };
  }
}
