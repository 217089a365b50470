import type { FastifyInstance } from 'fastify';
import type { Address, HumanName, Patient, Practitioner } from '@medplum/fhirtypes';
import type { GateScope } from '../../access/gate-scope.ts';
import { familiarPeople, manyPeopleWithoutRelationship, outsideWorkingHours, type IdentityFacts } from '../../audit/unusual.ts';
import { badRequest, forbidden } from '../../fhir/outcome.ts';
import { run } from '../../store/database.ts';
import { sql } from '../../store/sql.ts';
import type { Services } from '../../services.ts';
import { intParam, queryPairs } from '../query.ts';

const DAY_MS = 86_400_000;
const TITLES = new Set(['DR', 'DR.', 'MD', 'RN', 'NP', 'PA', 'MR', 'MRS', 'MS', 'PROF']);

const families = (names: HumanName[] | undefined) => (names ?? []).map((n) => n.family ?? '').filter(Boolean);
const addressTexts = (addresses: Address[] | undefined) =>
  (addresses ?? []).map((a) => [...(a.line ?? []), a.city, a.postalCode].filter(Boolean).join(' ')).filter(Boolean);

/** A user's family name from their display name when no Practitioner says better ("Dr. Dana Demo" → "Demo"). */
function familyFromDisplayName(display: string): string[] {
  const words = display.split(/\s+/).filter((w) => w && !TITLES.has(w.toUpperCase()));
  return words.length > 1 ? [words[words.length - 1]] : [];
}

async function userFacts(scope: GateScope, userId: string): Promise<IdentityFacts | undefined> {
  const [user] = await run<{ display_name: string; practitioner_id: string | null }>(scope.tx, sql`select display_name, practitioner_id from users where id = ${userId}`);
  if (!user) return undefined;
  const practitioner = user.practitioner_id
    ? (await run<{ content: Practitioner }>(scope.tx, sql`select content from resources where resource_type = 'Practitioner' and id = ${user.practitioner_id} and deleted = false`))[0]?.content
    : undefined;
  const fromRecord = families(practitioner?.name);
  return { familyNames: fromRecord.length ? fromRecord : familyFromDisplayName(user.display_name), addresses: addressTexts(practitioner?.address) };
}

async function personFacts(scope: GateScope, personId: string): Promise<IdentityFacts | undefined> {
  const patients = (await run<{ content: Patient }>(scope.tx, sql`select content from resources where resource_type = 'Patient' and person_id = ${personId} and deleted = false`))
    .map((r) => r.content);
  if (patients.length === 0) return undefined;
  return { familyNames: patients.flatMap((p) => families(p.name)), addresses: patients.flatMap((p) => addressTexts(p.address)) };
}

/** A bound of the window; a bare date as `to` means the end of that day, so `from=to=2026-12-07` is that whole day. */
function instant(raw: string | undefined, fallback: Date, name: 'from' | 'to'): Date {
  if (raw === undefined) return fallback;
  const d = new Date(raw);
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw) || Number.isNaN(d.getTime())) throw badRequest(`${name} must be a date or instant (YYYY-MM-DD or ISO 8601).`);
  return name === 'to' && /^\d{4}-\d{2}-\d{2}$/.test(raw) ? new Date(d.getTime() + DAY_MS - 1) : d;
}

/**
 * The privacy officer's unusual-access report (privacy-rules §6): users who viewed many people without a recorded
 * relationship, users who viewed people sharing their family name or address, and accesses outside working hours.
 */
export async function unusualAccessRoutes(app: FastifyInstance, s: Services): Promise<void> {
  app.get('/admin/unusual-access', async (request) => {
    if (request.ctx.role !== 'privacy-officer') throw forbidden('Only privacy officers may read the audit log.');
    const pairs = queryPairs(request);
    const param = (name: string) => pairs.find(([k]) => k === name)?.[1];
    const now = new Date();
    const to = instant(param('to'), now, 'to');
    const from = instant(param('from'), new Date(to.getTime() - 30 * DAY_MS), 'from');
    if (from > to) throw badRequest('from must not be after to.');
    const threshold = Math.max(1, intParam(pairs, 'threshold', 20, 100_000));
    const window = { from, to };
    const hours = { ...s.config.auditWorkingHours, timeZone: s.config.auditTimeZone, weekendsOutside: true };
    return s.gate.run(request.ctx, { action: 'audit-report', query: 'unusual access' }, async (scope) => ({
      window: { from: from.toISOString(), to: to.toISOString() },
      threshold,
      workingHours: hours,
      manyPeople: await manyPeopleWithoutRelationship(scope.tx, window, threshold),
      familiarPeople: await familiarPeople(scope.tx, window, { user: (id) => userFacts(scope, id), person: (id) => personFacts(scope, id) }),
      outsideWorkingHours: await outsideWorkingHours(scope.tx, window, hours),
    }));
  });
}
