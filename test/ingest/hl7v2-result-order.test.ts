/**
 * Result messages of one order applied out of order: a preliminary that failed and is retried from the error queue
 * after the final was stored, or a sender's old message arriving after a newer one. The older message must not
 * regress the record (values, statuses, lines the newer one withdrew); it is acknowledged and settled `superseded`,
 * and results of other orders in the same message still apply.
 */
import type { DiagnosticReport, Observation } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receiveHl7 } from '../../src/ingest/hl7v2-pipeline.ts';
import { errorQueue, getMessage } from '../../src/ingest/inbox.ts';
import { retryInboxMessage } from '../../src/ingest/reprocess.ts';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { facilityOrganization, patientOf } from '../privacy/support.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { userWithToken } from '../support/tokens.ts';

const FAC = 'ORDLAB';
const msh = (control: string, at: string, fac = FAC) => `MSH|^~\\&|LIS|${fac}|KATAHDIN|HIE|${at}||ORU^R01^ORU_R01|${control}|P|2.5.1`;
const pid = (mrn: string, fac = FAC) => `PID|1||${mrn}^^^${fac}^MR||HALE^RUTH||19580214|F`;
/** OBR with set ID, filler number, OBR-22 (results report/status change time; empty: not sent) and OBR-25 status. */
const obr = (set: number, filler: string, status: string, issued: string) =>
  `OBR|${set}|P${filler}^EHR|${filler}^LAB^1.2.9^ISO|24323-8^Comprehensive metabolic panel^LN|||20260301070000-0500|||||||||||||||${issued}|||${status}`;
const GLUCOSE = (status: string, value: string) => `OBX|1|NM|2345-7^Glucose^LN||${value}|mg/dL^mg/dL^UCUM|70-99|H|||${status}`;
const SODIUM = (status: string) => `OBX|2|NM|2951-2^Sodium^LN||139|mmol/L^mmol/L^UCUM|136-145|N|||${status}`;
const POTASSIUM = (status: string) => `OBX|3|NM|2823-3^Potassium^LN||5.9|mmol/L^mmol/L^UCUM|3.5-5.1|H|||${status}`;
/** One order group: its OBR (`issued` is OBR-22) and OBX lines. */
const group = (set: number, filler: string, status: string, issued: string, obx: string[]) => [`ORC|RE|P${filler}^EHR|${filler}^LAB^1.2.9^ISO`, obr(set, filler, status, issued), ...obx];
const oru = (control: string, at: string, mrn: string, groups: string[][], fac = FAC) => [msh(control, at, fac), pid(mrn, fac), ...groups.flat()].join('\r');
/** 1 March 2026 at `hhmm`, Eastern. */
const at = (hhmm: string) => `20260301${hhmm}00-0500`;
const msa = (ack: string) => ack.split('\r').find((l) => l.startsWith('MSA|'))?.split('|') ?? [];
const errs = (ack: string) => ack.split('\r').filter((l) => l.startsWith('ERR|'));

describe.each(await databaseKinds())('HL7 v2 result messages of one order applied out of order (%s)', (kind) => {
  let server: TestServer;
  const db = () => server.services.db;
  const send = async (message: string) => {
    const out = await receiveHl7(server.services, message, 'mllp');
    expect(msa(out.ack)[1], out.ack).toBe('AA');
    return out;
  };
  const stored = <T>(type: string, text: string) =>
    run<{ id: string; content: T; version_id: number }>(db(),
      sql`select id, content, version_id from resources where resource_type = ${type} and not deleted and content::text like ${`%${text}%`} order by id`);
  const report = async (filler: string) => {
    const rows = await stored<DiagnosticReport>('DiagnosticReport', `${filler}|`);
    expect(rows).toHaveLength(1);
    return { status: rows[0].content.status, issued: rows[0].content.issued, version: rows[0].version_id, results: (rows[0].content.result ?? []).length };
  };
  /** The order's Observations by LOINC code: status, value, version. */
  const results = async (filler: string) => Object.fromEntries((await stored<Observation>('Observation', `${filler}|`)).map((r) =>
    [r.content.code.coding?.[0].code, [r.content.status, r.content.valueQuantity?.value, r.version_id]]));
  const row = async (control: string, fac = FAC) =>
    (await run<{ id: string; status: string; reason: string | null; resources: number; ack: string | null; has_raw: boolean; person_ids: string[] }>(db(),
      sql`select id, status, reason, resources, ack, raw is not null as has_raw, person_ids from ingest_messages where sender = ${fac} and control_id = ${control}`))[0];
  const provenanceOf = async (control: string) =>
    (await run<{ n: number }>(db(), sql`select count(*)::int as n from resources where resource_type = 'Provenance' and not deleted
      and content->'entity'->0->'what'->'identifier'->>'value' = ${control}`))[0].n;

  beforeAll(async () => {
    server = await startTestServer(kind, { mllpRegisterUnknownFacilities: false });
    await facilityOrganization(server, FAC);
  }, 240_000);
  afterAll(async () => server?.stop(), 60_000);

  it('a preliminary rejected before the final, retried by an administrator after it, does not overwrite the final: settled superseded, kept, out of the error queue', async () => {
    const NEW = 'ORDNEW';
    const prelim = oru('NEW-1', at('1000'), 'OMRN0', [group(1, 'FORD0', 'P', at('1000'), [GLUCOSE('P', '182'), SODIUM('P'), POTASSIUM('P')])], NEW);
    // The lab's interface went live before its Organization was registered: the preliminary is refused (AR 204).
    expect(msa((await receiveHl7(server.services, prelim, 'mllp')).ack)[1]).toBe('AR');
    const failed = await row('NEW-1', NEW);
    expect(failed.status).toBe('rejected');
    await facilityOrganization(server, NEW);
    await send(oru('NEW-2', at('1400'), 'OMRN0', [group(1, 'FORD0', 'F', at('1400'), [GLUCOSE('F', '180'), SODIUM('F')])], NEW));
    const final = { report: await report('FORD0'), results: await results('FORD0') };
    expect(final.report).toMatchObject({ status: 'final', results: 2 });

    // The administrator works through the error queue: the preliminary is older than what the record holds.
    const admin = await userWithToken(server, { username: `order-admin-${kind}`, role: 'admin' });
    const call = (url: string, method: 'GET' | 'POST' = 'GET') => server.app.inject({ method, url, headers: { authorization: `Bearer ${admin}` } });
    // Accepted (AA) but applied nowhere: the retry says so.
    expect((await call(`/admin/ingest/errors/${failed.id}/retry`, 'POST')).json()).toEqual({ status: 'superseded' });
    expect((await call('/admin/ingest/stats')).json()).toMatchObject({ totals: { superseded: 1 } });
    expect(await report('FORD0')).toEqual(final.report);
    expect(await results('FORD0')).toEqual(final.results);
    expect(await provenanceOf('NEW-1')).toBe(0);

    const settled = await row('NEW-1', NEW);
    expect(settled).toMatchObject({ status: 'superseded', resources: 0, has_raw: true });
    expect(settled.reason).toMatch(/superseded/);
    // Filed under the patient's person like any message, so an opt-out purge clears its body.
    expect(settled.person_ids).toEqual([(await patientOf(server, NEW, 'OMRN0')).personId]);
    expect(msa(settled.ack ?? '')[1]).toBe('AA');
    const shown = (await call(`/admin/ingest/errors/${failed.id}`)).json() as { status: string; reason: string; raw: string };
    expect(shown).toMatchObject({ status: 'superseded', reason: settled.reason });
    expect(shown.raw).toContain('FORD0');
    expect((await errorQueue(db())).map((m) => m.id)).not.toContain(failed.id);
    // Resolved: a further retry answers the stored outcome and writes nothing.
    expect(await retryInboxMessage(server.services, failed.id)).toMatchObject({ status: 'duplicate' });
    expect(await report('FORD0')).toEqual(final.report);
  }, 120_000);

  it('an older message arriving after a newer one (by OBR-22) is acknowledged AA and changes nothing; the withdrawn line stays withdrawn', async () => {
    await send(oru('ORD-1', at('1000'), 'OMRN1', [group(1, 'FORD1', 'P', at('1000'), [GLUCOSE('P', '182'), SODIUM('P'), POTASSIUM('P')])]));
    await send(oru('ORD-2', at('1400'), 'OMRN1', [group(1, 'FORD1', 'F', at('1400'), [GLUCOSE('F', '180'), SODIUM('F')])]));
    const final = { report: await report('FORD1'), results: await results('FORD1') };
    expect(final.results).toEqual({ '2345-7': ['final', 180, 2], '2951-2': ['final', 139, 2], '2823-3': ['entered-in-error', 5.9, 2] });

    // A second preliminary (12:00) the sender held back, sent after the final.
    const late = await send(oru('ORD-3', at('1200'), 'OMRN1', [group(1, 'FORD1', 'P', at('1200'), [GLUCOSE('P', '181'), SODIUM('P'), POTASSIUM('P')])]));
    expect(late.status).toBe('processed');
    expect(await report('FORD1')).toEqual(final.report);
    expect(await results('FORD1')).toEqual(final.results);
    expect(await provenanceOf('ORD-3')).toBe(0);
    expect(errs(late.ack)).toEqual([expect.stringMatching(/^ERR\|OBR\^1\^\^207&.*superseded.*\|W$/)]);
    expect(await row('ORD-3')).toMatchObject({ status: 'superseded', resources: 0, has_raw: true });
    expect((await getMessage(db(), server.services.auth.fieldCrypto, (await row('ORD-3')).id))?.raw).toContain('ORD-3');
    // The sender's resend of it is a replay: the stored answer.
    expect(await receiveHl7(server.services, oru('ORD-3', at('1200'), 'OMRN1', [group(1, 'FORD1', 'P', at('1200'), [GLUCOSE('P', '181')])]), 'mllp'))
      .toMatchObject({ status: 'duplicate', ack: late.ack });

    // A newer correction still applies, and an equal time applies as today (a resend under a new control id).
    await send(oru('ORD-4', at('1600'), 'OMRN1', [group(1, 'FORD1', 'C', at('1600'), [GLUCOSE('C', '179'), SODIUM('C')])]));
    expect((await results('FORD1'))['2345-7']).toEqual(['corrected', 179, 3]);
    await send(oru('ORD-5', at('1600'), 'OMRN1', [group(1, 'FORD1', 'C', at('1600'), [GLUCOSE('C', '178'), SODIUM('C')])]));
    expect((await results('FORD1'))['2345-7']).toEqual(['corrected', 178, 4]);
  }, 120_000);

  it('OBR-22 decides when both carry it, MSH-7 otherwise', async () => {
    // Stored: OBR-22 14:00 sent at 15:00. A correction whose OBR-22 is newer applies even with an earlier MSH-7.
    await send(oru('ORD-10', at('1500'), 'OMRN1', [group(1, 'FORD2', 'F', at('1400'), [GLUCOSE('F', '150')])]));
    await send(oru('ORD-11', at('1300'), 'OMRN1', [group(1, 'FORD2', 'C', at('1430'), [GLUCOSE('C', '151')])]));
    expect((await results('FORD2'))['2345-7']).toEqual(['corrected', 151, 2]);
    // An older OBR-22 loses, however late its MSH-7.
    await send(oru('ORD-12', at('1700'), 'OMRN1', [group(1, 'FORD2', 'P', at('1200'), [GLUCOSE('P', '152')])]));
    expect((await results('FORD2'))['2345-7']).toEqual(['corrected', 151, 2]);
    expect((await row('ORD-12')).status).toBe('superseded');

    // Without OBR-22 in the message: its MSH-7 against the latest stored message of the order (15:00 for both).
    await send(oru('ORD-13', at('1500'), 'OMRN1', [group(1, 'FORD3', 'F', '', [GLUCOSE('F', '160')])]));
    await send(oru('ORD-14', at('1100'), 'OMRN1', [group(1, 'FORD3', 'P', '', [GLUCOSE('P', '161')])]));
    expect((await results('FORD3'))['2345-7']).toEqual(['final', 160, 1]);
    expect((await row('ORD-14')).status).toBe('superseded');
    // The latest of every applied message of the order, not that of the last one applied (ORD-11, 13:00).
    await send(oru('ORD-15', at('1400'), 'OMRN1', [group(1, 'FORD2', 'P', '', [GLUCOSE('P', '153')])]));
    expect((await results('FORD2'))['2345-7']).toEqual(['corrected', 151, 2]);
    await send(oru('ORD-16', at('1800'), 'OMRN1', [group(1, 'FORD3', 'C', '', [GLUCOSE('C', '162')])]));
    expect((await results('FORD3'))['2345-7']).toEqual(['corrected', 162, 2]);
  }, 120_000);

  it('other orders of the same message still apply: only the superseded report and its results are left out', async () => {
    await send(oru('ORD-20', at('1400'), 'OMRN1', [group(1, 'FORD4', 'F', at('1400'), [GLUCOSE('F', '140')])]));
    const mixed = await send(oru('ORD-21', at('1200'), 'OMRN1', [
      group(1, 'FORD4', 'P', at('1200'), [GLUCOSE('P', '141')]),
      group(2, 'FORD5', 'P', at('1200'), [GLUCOSE('P', '142'), SODIUM('P')]),
    ]));
    expect(mixed.status).toBe('processed');
    expect(await results('FORD4')).toEqual({ '2345-7': ['final', 140, 1] });
    expect(await results('FORD5')).toEqual({ '2345-7': ['preliminary', 142, 1], '2951-2': ['preliminary', 139, 1] });
    expect(errs(mixed.ack)).toEqual([expect.stringMatching(/^ERR\|OBR\^1\^\^207&/)]);
    const settled = await row('ORD-21');
    expect(settled.status).toBe('processed');
    expect(settled.reason).toMatch(/superseded/);
    expect(await provenanceOf('ORD-21')).toBe(1);
    const [provenance] = await run<{ targets: string[] }>(db(), sql`select array(select t->>'reference' from jsonb_array_elements(content->'target') t) as targets
      from resources where resource_type = 'Provenance' and content->'entity'->0->'what'->'identifier'->>'value' = 'ORD-21'`);
    const [stale] = await stored<DiagnosticReport>('DiagnosticReport', 'FORD4|');
    expect(provenance.targets).not.toContain(`DiagnosticReport/${stale.id}`);
  }, 120_000);

  it('messages of one order processed at the same time end with the newest applied, whichever commits first', async () => {
    // The patient exists, so its key is not what serialises the messages.
    await send(oru('ORD-30', at('0900'), 'OMRN3', [group(1, 'FORD30', 'F', at('0900'), [GLUCOSE('F', '100')])]));
    const orders = Array.from({ length: 6 }, (_, i) => `FORD3${i + 1}`);
    // Half the orders already hold a registered report (their keys exist and are not locked by the transaction).
    for (const [i, filler] of orders.slice(0, 3).entries()) await send(oru(`ORD-R${i}`, at('0800'), 'OMRN3', [group(1, filler, 'I', at('0800'), [])]));
    await Promise.all(orders.flatMap((filler, i) => [
      send(oru(`ORD-P${i}`, at('1000'), 'OMRN3', [group(1, filler, 'P', at('1000'), [GLUCOSE('P', '182'), SODIUM('P'), POTASSIUM('P')])])),
      send(oru(`ORD-F${i}`, at('1400'), 'OMRN3', [group(1, filler, 'F', at('1400'), [GLUCOSE('F', '180'), SODIUM('F')])])),
    ]));
    for (const filler of orders) {
      expect((await report(filler)).status, filler).toBe('final');
      const r = await results(filler);
      expect([r['2345-7']?.slice(0, 2), r['2951-2']?.[0]], filler).toEqual([['final', 180], 'final']);
      expect(r['2823-3']?.[0] ?? 'never stored', filler).toMatch(/entered-in-error|never stored/);
    }
  }, 180_000);
});
