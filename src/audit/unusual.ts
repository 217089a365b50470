import type { Queryable } from '../store/database.ts';

/** Unusual-access reports for privacy officers. Windows are [from, to] on the recorded time. */
export interface Window {
  from: Date;
  to: Date;
}

// Acts that disclose clinical data to the user. Searches and $match are left out of the "many people" count:
// picking the right patient legitimately lists several people's demographics without a relationship.
const VIEW_ACTIONS = ['read', 'vread', 'history', 'everything', 'export', 'notify', 'document', 'binary', 'operation'];
const ANY_VIEW = [...VIEW_ACTIONS, 'search', 'match'];

export interface ManyPeopleRow {
  agentUserId: string;
  agentName: string;
  agentOrg: string | null;
  persons: number;
  events: number;
}

/** Users who viewed at least `threshold` distinct people with no relationship recorded (`relationship = 'none'`). */
export async function manyPeopleWithoutRelationship(db: Queryable, w: Window, threshold: number): Promise<ManyPeopleRow[]> {
  const rows = (await db.query<{ agent_user_id: string; agent_name: string; agent_org: string | null; persons: number | string; events: number | string }>(
    `select agent_user_id, max(agent_name) as agent_name, max(agent_org) as agent_org,
            count(distinct p) as persons, count(distinct seq) as events
       from audit_log cross join lateral unnest(person_ids) as p
      where recorded between $1 and $2 and relationship = 'none' and outcome = 'success'
        and agent_user_id is not null and action = any($3::text[])
      group by agent_user_id having count(distinct p) >= $4
      order by persons desc, agent_user_id`,
    [w.from.toISOString(), w.to.toISOString(), VIEW_ACTIONS, threshold],
  )).rows;
  return rows.map((r) => ({ agentUserId: r.agent_user_id, agentName: r.agent_name, agentOrg: r.agent_org, persons: Number(r.persons), events: Number(r.events) }));
}

/** Family names and addresses of a user or a person, from the injected directories. */
export interface IdentityFacts {
  familyNames: string[];
  addresses: string[];
}

export interface IdentityLookups {
  user: (userId: string) => IdentityFacts | undefined | Promise<IdentityFacts | undefined>;
  person: (personId: string) => IdentityFacts | undefined | Promise<IdentityFacts | undefined>;
}

export interface FamiliarPersonRow {
  agentUserId: string;
  agentName: string;
  personId: string;
  sharedFamilyName: boolean;
  sharedAddress: boolean;
  events: number;
  lastSeen: string;
}

/** Normalises for comparison: case, accents, punctuation and spacing do not matter. */
export function normaliseForMatch(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toUpperCase().replace(/[^A-Z0-9]+/g, ' ').trim();
}

const overlaps = (a: string[], b: string[]) => {
  const set = new Set(a.map(normaliseForMatch).filter(Boolean));
  return b.some((x) => set.has(normaliseForMatch(x)));
};

/** Users who looked at people sharing their family name or address (possible snooping on relatives or neighbours). */
export async function familiarPeople(db: Queryable, w: Window, lookups: IdentityLookups): Promise<FamiliarPersonRow[]> {
  const pairs = (await db.query<{ agent_user_id: string; agent_name: string; person_id: string; events: number | string; last_seen: Date | string }>(
    `select agent_user_id, max(agent_name) as agent_name, p as person_id, count(*) as events, max(recorded) as last_seen
       from audit_log cross join lateral unnest(person_ids) as p
      where recorded between $1 and $2 and outcome = 'success' and agent_user_id is not null
        and agent_role <> 'patient' and action = any($3::text[])
      group by agent_user_id, p order by agent_user_id, p`,
    [w.from.toISOString(), w.to.toISOString(), ANY_VIEW],
  )).rows;
  const users = new Map<string, IdentityFacts | undefined>();
  const out: FamiliarPersonRow[] = [];
  for (const pair of pairs) {
    if (!users.has(pair.agent_user_id)) users.set(pair.agent_user_id, await lookups.user(pair.agent_user_id));
    const user = users.get(pair.agent_user_id);
    const person = user && (await lookups.person(pair.person_id));
    if (!user || !person) continue;
    const sharedFamilyName = overlaps(user.familyNames, person.familyNames);
    const sharedAddress = overlaps(user.addresses, person.addresses);
    if (!sharedFamilyName && !sharedAddress) continue;
    out.push({
      agentUserId: pair.agent_user_id, agentName: pair.agent_name, personId: pair.person_id, sharedFamilyName, sharedAddress,
      events: Number(pair.events), lastSeen: new Date(pair.last_seen).toISOString(),
    });
  }
  return out;
}

export interface WorkingHours {
  /** First working hour (0–23), inclusive. */
  start: number;
  /** End hour (1–24), exclusive. */
  end: number;
  /** IANA zone the hours are in. */
  timeZone: string;
  /** Saturdays and Sundays count as outside working hours. */
  weekendsOutside: boolean;
}

export interface OffHoursRow {
  seq: number;
  time: string;
  agentUserId: string;
  agentName: string;
  action: string;
  personIds: string[];
}

/** Accesses to people's records by users outside the configured working hours. */
export async function outsideWorkingHours(db: Queryable, w: Window, hours: WorkingHours, limit = 500): Promise<OffHoursRow[]> {
  const rows = (await db.query<{ seq: number | string; recorded: Date | string; agent_user_id: string; agent_name: string; action: string; person_ids: string[] }>(
    `select seq, recorded, agent_user_id, agent_name, action, person_ids from (
        select *, recorded at time zone $3 as local from audit_log
         where recorded between $1 and $2 and outcome = 'success' and agent_user_id is not null
           and agent_role <> 'patient' and cardinality(person_ids) > 0 and action = any($4::text[])) x
      where extract(hour from local) < $5 or extract(hour from local) >= $6
         or ($7 and extract(isodow from local) in (6, 7))
      order by seq limit $8`,
    [w.from.toISOString(), w.to.toISOString(), hours.timeZone, ANY_VIEW, hours.start, hours.end, hours.weekendsOutside, limit],
  )).rows;
  return rows.map((r) => ({
    seq: Number(r.seq), time: new Date(r.recorded).toISOString(), agentUserId: r.agent_user_id, agentName: r.agent_name,
    action: r.action, personIds: r.person_ids,
  }));
}
