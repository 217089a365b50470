import { canonicalJson, sha256Hex } from './canonical.ts';
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
  event: string;
  prev_hash: string;
  hash: string;
}

export const AUDIT_COLUMNS =
  'seq, recorded, action, subtype, outcome, purpose, agent_user_id, agent_name, agent_role, agent_org, agent_client, ' +
  'source_ip, person_ids, entity_refs, relationship, break_glass, event, prev_hash, hash';

/** The hash of one entry: its sequence number, the previous entry's hash and every stored fact, canonically serialised. */
export function hashEntry(seq: number, prevHash: string, facts: AuditFacts): string {
  return sha256Hex(`${seq}\n${prevHash}\n${canonicalJson(facts)}`);
}

/** Rebuilds the hashed facts from a stored row, normalising driver differences (Date vs text, bigint). */
export function rowFacts(row: AuditRow): AuditFacts {
  return {
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
    event: row.event,
  };
}

/** The stored row for facts at a position of the chain. */
export function factsRow(seq: number, prevHash: string, hash: string, f: AuditFacts): AuditRow {
  return {
    seq, recorded: f.recorded, action: f.action, subtype: f.subtype, outcome: f.outcome, purpose: f.purpose,
    agent_user_id: f.agentUserId, agent_name: f.agentName, agent_role: f.agentRole, agent_org: f.agentOrg,
    agent_client: f.agentClient, source_ip: f.sourceIp, person_ids: f.personIds, entity_refs: f.entityRefs,
    relationship: f.relationship, break_glass: f.breakGlass, event: f.event, prev_hash: prevHash, hash,
  };
}
