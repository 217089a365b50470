import type { AuditEvent } from '@medplum/fhirtypes';
import { canonicalJson, sha256Hex } from './canonical.ts';
import { buildAuditEvent, inputOfFacts } from './events.ts';
import type { AuditAction, AuditFacts, AuditOutcome, Relationship } from './types.ts';

/** One row of `audit_log` as the drivers return it. */
export interface AuditRow {
  seq: number;
  recorded: Date | string;
  action: string;
  subtype: string;
  outcome: string;
  purpose: string | null;
  agent_user_id: string | null;
  agent_name: string;
  agent_role: string;
  agent_org: string | null;
  agent_client: string | null;
  source_ip: string | null;
  person_ids: string[];
  entity_refs: string[];
  relationship: string | null;
  break_glass: boolean;
  /** The AuditEvent JSON of entries written before compact entries; null in compact ones (`eventOfRow`). */
  event: string | null;
  query: string | null;
  detail: string | null;
  prev_hash: string;
  hash: string;
  /** The chain the entry belongs to (1 for every entry written before chains existed). */
  chain: number;
  /** Position in its chain; null for entries written before chains existed, whose position is their seq. */
  chain_seq: number | null;
}

export const AUDIT_COLUMNS =
  'seq, recorded, action, subtype, outcome, purpose, agent_user_id, agent_name, agent_role, agent_org, agent_client, ' +
  'source_ip, person_ids, entity_refs, relationship, break_glass, event, query, detail, prev_hash, hash, chain, chain_seq';

/** Where an entry stands in its chain. */
export function positionOf(row: Pick<AuditRow, 'seq' | 'chain_seq'>): number {
  return Number(row.chain_seq ?? row.seq);
}

/**
 * What the hash binds an entry's place to: the seq alone for entries written before chains existed (their hashes
 * were computed so); otherwise chain, position and event id, so no entry can be moved or renumbered unnoticed.
 */
export function placeOf(row: Pick<AuditRow, 'seq' | 'chain' | 'chain_seq'>): string {
  return row.chain_seq === null ? String(row.seq) : `${row.chain}.${row.chain_seq}.${row.seq}`;
}

/** The hash of one entry: its place (`placeOf`), the previous entry's hash and every stored fact, canonically serialised. */
export function hashEntry(place: string | number, prevHash: string, facts: AuditFacts): string {
  return sha256Hex(`${place}\n${prevHash}\n${canonicalJson(facts)}`);
}

/** Rebuilds the hashed facts from a stored row, normalising driver differences (Date vs text, bigint). */
export function rowFacts(row: AuditRow): AuditFacts {
  const common = {
    recorded: new Date(row.recorded).toISOString(),
    action: row.action as AuditAction,
    subtype: row.subtype,
    outcome: row.outcome as AuditOutcome,
    purpose: row.purpose,
    agentUserId: row.agent_user_id,
    agentName: row.agent_name,
    agentRole: row.agent_role,
    agentOrg: row.agent_org,
    agentClient: row.agent_client,
    sourceIp: row.source_ip,
    personIds: row.person_ids ?? [],
    entityRefs: row.entity_refs ?? [],
    relationship: row.relationship as Relationship | null,
    breakGlass: row.break_glass,
  };
  // Entries from before compact entries hashed their stored event; compact ones hash query and detail instead.
  return row.event !== null && row.event !== undefined ? { ...common, event: row.event } : { ...common, query: row.query ?? null, detail: row.detail ?? null };
}

/** The FHIR AuditEvent of a stored entry: as stored for older entries, rebuilt from the facts for compact ones. */
export function eventOfRow(row: AuditRow): AuditEvent {
  const event = row.event !== null && row.event !== undefined
    ? (JSON.parse(row.event) as AuditEvent)
    : buildAuditEvent(inputOfFacts(rowFacts(row)), new Date(row.recorded));
  return { ...event, id: String(row.seq) };
}

/** The stored row for facts at a position of a chain. */
export function factsRow(place: { seq: number; chain: number; chainSeq: number }, prevHash: string, hash: string, f: AuditFacts): AuditRow {
  const { seq } = place;
  return {
    chain: place.chain, chain_seq: place.chainSeq,
    seq, recorded: f.recorded, action: f.action, subtype: f.subtype, outcome: f.outcome, purpose: f.purpose,
    agent_user_id: f.agentUserId, agent_name: f.agentName, agent_role: f.agentRole, agent_org: f.agentOrg,
    agent_client: f.agentClient, source_ip: f.sourceIp, person_ids: f.personIds, entity_refs: f.entityRefs,
    relationship: f.relationship, break_glass: f.breakGlass, event: f.event ?? null, query: f.query ?? null, detail: f.detail ?? null,
    prev_hash: prevHash, hash,
  };
}
