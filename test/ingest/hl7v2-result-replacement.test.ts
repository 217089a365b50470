/**
 * An ORU^R01 for an order already stored (same filler number and OBR-4) is the lab's current snapshot of that
 * order's results: the results it no longer carries (a preliminary line the final drops, or the one-per-line
 * Observations of a narrative now sent as one) are withdrawn, kept in history, not left as current values.
 */
import type { DiagnosticReport, Observation, Provenance, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapMessage } from '../../src/ingest/hl7v2/map/index.ts';
import { parseHl7 } from '../../src/ingest/hl7v2/parse.ts';
import { receiveHl7 } from '../../src/ingest/hl7v2-pipeline.ts';
import { senderContext } from '../../src/ingest/sender-context.ts';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { consent, count, facilityOrganization, fhir, patientOf } from '../privacy/support.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { systemClientToken, userWithToken } from '../support/tokens.ts';

const FAC = 'RPLLAB';
const msh = (control: string) => `MSH|^~\\&|LIS|${FAC}|KATAHDIN|HIE|20260301100000-0500||ORU^R01^ORU_R01|${control}|P|2.5.1`;
const pid = (mrn: string) => `PID|1||${mrn}^^^${FAC}^MR||HALE^RUTH||19580214|F`;
/** OBR with filler number, OBR-7 observation time, OBR-22 status change time and OBR-25 result status. */
const obr = (filler: string, status: string, at = '20260301070000-0500') =>
  `OBR|1|P${filler}^EHR|${filler}^LAB^1.2.9^ISO|24323-8^Comprehensive metabolic panel^LN|||${at}|||||||||||||||20260301100000-0500|||${status}`;
const GLUCOSE = (status: string, value = '182') => `OBX|1|NM|2345-7^Glucose^LN||${value}|mg/dL^mg/dL^UCUM|70-99|H|||${status}`;
const SODIUM = (status: string) => `OBX|2|NM|2951-2^Sodium^LN||139|mmol/L^mmol/L^UCUM|136-145|N|||${status}`;
const POTASSIUM = (status: string) => `OBX|3|NM|2823-3^Potassium^LN||5.9|mmol/L^mmol/L^UCUM|3.5-5.1|H|||${status}`;
const oru = (control: string, mrn: string, filler: string, status: string, obx: string[], at?: string) =>
  [msh(control), pid(mrn), `ORC|RE|P${filler}^EHR|${filler}^LAB^1.2.9^ISO`, obr(filler, status, at), ...obx].join('\r');

describe.each(await databaseKinds())('HL7 v2 result updates: results a newer message of the order no longer carries (%s)', (kind) => {
  let server: TestServer;
  const send = async (message: string) => {
    const out = await receiveHl7(server.services, message, 'mllp');
    expect(out.ack.split('\r')[1], out.ack).toMatch(/^MSA\|AA\|/);
    return out;
  };
  /** Current, not deleted resources whose JSON mentions `text` (test oracle). */
  const stored = <T extends Resource>(type: string, text: string) =>
    run<{ id: string; content: T; version_id: number }>(server.services.db,
      sql`select id, content, version_id from resources where resource_type = ${type} and not deleted and content::text like ${`%${text}%`} order by id`);
  const report = async (filler: string) => {
    const rows = await stored<DiagnosticReport>('DiagnosticReport', `${filler}|`);
    expect(rows).toHaveLength(1);
    return rows[0].content;
  };
  /** The order's Observations by LOINC code: status, value and version. */
  type Result = { id: string; status: Observation['status']; value: number | string | undefined; version: number };
  const results = async (filler: string): Promise<Record<string, Result>> => Object.fromEntries((await stored<Observation>('Observation', `${filler}|`)).map((r) =>
    [r.content.code.coding?.[0].code ?? r.content.code.text, { id: r.id, status: r.content.status, value: r.content.valueQuantity?.value ?? r.content.valueString, version: r.version_id }]));
  const resultRefs = (r: DiagnosticReport) => (r.result ?? []).map((x) => x.reference).sort();

  beforeAll(async () => {
    server = await startTestServer(kind);
  }, 240_000);
  afterAll(async () => server?.stop(), 60_000);

  it('a final with fewer lines than the preliminary withdraws the line it dropped (entered-in-error, kept in history, audited, with Provenance)', async () => {
    await send(oru('RPL-1', 'RMRN1', 'FRPL1', 'P', [GLUCOSE('P'), SODIUM('P'), POTASSIUM('P')]));
    // Another order of the same patient with the same tests: never touched by FRPL1's messages.
    await send(oru('RPL-2', 'RMRN1', 'FRPL2', 'P', [GLUCOSE('P', '95'), SODIUM('P'), POTASSIUM('P')]));
    const before = await results('FRPL1');
    expect(Object.values(before).map((r) => r.status)).toEqual(['preliminary', 'preliminary', 'preliminary']);

    await send(oru('RPL-3', 'RMRN1', 'FRPL1', 'F', [GLUCOSE('F'), SODIUM('F')]));
    const after = await results('FRPL1');
    expect(after).toEqual({
      '2345-7': { id: before['2345-7'].id, status: 'final', value: 182, version: 2 },
      '2951-2': { id: before['2951-2'].id, status: 'final', value: 139, version: 2 },
      // Withdrawn, not deleted: its value stays readable for whoever acted on the preliminary.
      '2823-3': { id: before['2823-3'].id, status: 'entered-in-error', value: 5.9, version: 2 },
    });
    const final = await report('FRPL1');
    expect(final.status).toBe('final');
    expect(resultRefs(final)).toEqual([`Observation/${after['2345-7'].id}`, `Observation/${after['2951-2'].id}`].sort());
    const history = await run<{ status: string }>(server.services.db,
      sql`select content->>'status' as status from resource_history where resource_type = 'Observation' and id = ${after['2823-3'].id} order by version_id`);
    expect(history.map((h) => h.status)).toEqual(['preliminary', 'entered-in-error']);

    // The message that withdrew it is named, as for everything a message writes.
    const provenance = (await stored<Provenance>('Provenance', `Observation/${after['2823-3'].id}`)).map((p) => p.content);
    const nullified = provenance.find((p) => p.activity?.coding?.[0].code === 'NULLIFY');
    expect(nullified?.target.map((t) => t.reference)).toEqual([`Observation/${after['2823-3'].id}/_history/2`]);
    expect(nullified?.entity?.[0].what.identifier).toEqual({ system: `urn:katahdin:hl7v2:control-id:${FAC}`, value: 'RPL-3' });
    const updates = await count(server, `select count(*)::int as n from audit_log where action = 'update' and $1 = any(entity_refs) and agent_client = $2`,
      [`Observation/${after['2823-3'].id}`, `hl7v2:${FAC}`]);
    expect(updates).toBe(1);

    const other = await results('FRPL2');
    expect(Object.values(other).map((r) => [r.status, r.version])).toEqual([['preliminary', 1], ['preliminary', 1], ['preliminary', 1]]);
    expect(resultRefs(await report('FRPL2'))).toHaveLength(3);
  }, 120_000);

  it('is idempotent: the same final again (resent or under a new control id) changes nothing of the withdrawn line', async () => {
    const final = oru('RPL-3', 'RMRN1', 'FRPL1', 'F', [GLUCOSE('F'), SODIUM('F')]);
    expect((await receiveHl7(server.services, final, 'mllp')).status).toBe('duplicate');
    await send(final.replace('|RPL-3|', '|RPL-4|'));
    const after = await results('FRPL1');
    expect(after['2823-3']).toMatchObject({ status: 'entered-in-error', version: 2 });
    expect(resultRefs(await report('FRPL1'))).toHaveLength(2);
    const nullify = await count(server, `select count(*)::int as n from resources where resource_type = 'Provenance' and not deleted and content->'activity'->'coding'->0->>'code' = 'NULLIFY'`);
    expect(nullify).toBe(1);
    // A later message that carries the line again brings it back as that message says.
    await send(oru('RPL-5', 'RMRN1', 'FRPL1', 'C', [GLUCOSE('C'), SODIUM('C'), POTASSIUM('C')]));
    expect((await results('FRPL1'))['2823-3']).toMatchObject({ status: 'corrected', version: 3 });
    expect(resultRefs(await report('FRPL1'))).toHaveLength(3);
  }, 120_000);

  it('a narrative stored one Observation per line (before lines were grouped) is one current Observation once resent', async () => {
    // ST lines stay one Observation each: stored the way FT/TX lines were stored before 2026-12-07, told apart by
    // OBX-4 (lines 1 and 2) or only by OBX-1 (same code and sub-ID).
    const lines = (type: string, status: string) => [
      `OBX|1|NM|2345-7^Glucose^LN||182|mg/dL^mg/dL^UCUM|70-99|H|||${status}`,
      `OBX|2|${type}|8251-1^Service comment^LN|1|Specimen slightly hemolyzed.||||||${status}`,
      `OBX|3|${type}|8251-1^Service comment^LN|2|Potassium may be falsely raised.||||||${status}`,
      `OBX|4|${type}|48767-8^Annotation comment^LN||Called to ward.||||||${status}`,
      `OBX|5|${type}|48767-8^Annotation comment^LN||Read back confirmed.||||||${status}`,
    ];
    await send(oru('RPL-6', 'RMRN1', 'FRPL3', 'F', lines('ST', 'F')));
    const perLine = await stored<Observation>('Observation', 'FRPL3|');
    expect(perLine).toHaveLength(5);

    await send(oru('RPL-7', 'RMRN1', 'FRPL3', 'C', lines('FT', 'C')));
    const current = (await stored<Observation>('Observation', 'FRPL3|')).filter((o) => o.content.status !== 'entered-in-error');
    expect(current.map((o) => o.content.valueString ?? o.content.valueQuantity?.value).sort()).toEqual([
      182, 'Called to ward.\nRead back confirmed.', 'Specimen slightly hemolyzed.\nPotassium may be falsely raised.',
    ].sort());
    const r = await report('FRPL3');
    expect(resultRefs(r)).toEqual(current.map((o) => `Observation/${o.id}`).sort());
    // Nothing is deleted: the per-line Observations are kept, withdrawn.
    const withdrawn = (await stored<Observation>('Observation', 'FRPL3|')).filter((o) => o.content.status === 'entered-in-error');
    expect(withdrawn.map((o) => o.content.valueString).sort()).toEqual(['Called to ward.', 'Potassium may be falsely raised.', 'Read back confirmed.']);
  }, 120_000);

  it('lines left behind by a resend applied before this rule (no longer in the report) are withdrawn by the next message of the order', async () => {
    const lines = (type: string) => [
      'OBX|1|NM|2345-7^Glucose^LN||140|mg/dL^mg/dL^UCUM|70-99|H|||F',
      `OBX|2|${type}|8251-1^Service comment^LN|1|Lipemic.||||||F`,
      `OBX|3|${type}|8251-1^Service comment^LN|2|Repeat advised.||||||F`,
    ];
    await send(oru('RPL-8', 'RMRN1', 'FRPL4', 'F', lines('ST')));
    // The resend as the pipeline applied it until now: the same transaction, without withdrawing anything.
    const parsed = parseHl7(oru('RPL-9', 'RMRN1', 'FRPL4', 'F', lines('FT')));
    if (!parsed.ok) throw new Error('unparsed');
    const mapped = mapMessage(parsed.message, { now: new Date() });
    if (mapped.kind !== 'bundle') throw new Error('not mapped');
    const s = server.services;
    const ctx = await senderContext(s, FAC, 'hl7v2');
    if (!ctx) throw new Error('no sender');
    await s.gate.run(ctx, { action: 'ingest', query: 'R01 RPL-9' }, (scope) => s.transactions.transaction(scope, mapped.bundle.entry ?? [], { samePatient: true, sameSource: true }));
    const orphaned = (await stored<Observation>('Observation', 'FRPL4|')).find((o) => o.content.valueString === 'Repeat advised.');
    expect(orphaned?.content.status).toBe('final');
    expect(resultRefs(await report('FRPL4'))).not.toContain(`Observation/${orphaned!.id}`);

    await send(oru('RPL-10', 'RMRN1', 'FRPL4', 'F', lines('FT')));
    expect((await stored<Observation>('Observation', 'FRPL4|')).find((o) => o.id === orphaned!.id)?.content.status).toBe('entered-in-error');
  }, 120_000);

  it('withdraws only results keyed under the report: another order\'s result the report was made to list is left alone', async () => {
    await send(oru('RPL-16', 'RMRN1', 'FRPL7', 'P', [GLUCOSE('P'), SODIUM('P')]));
    const foreign = (await results('FRPL2'))['2345-7'];
    // The sender's own FHIR client lists FRPL2's glucose in FRPL7's report (the API lets it; ingestion never would).
    const token = await systemClientToken(server, `rpl-ehr-${kind}`, await facilityOrganization(server, FAC));
    const [stored7] = await stored<DiagnosticReport>('DiagnosticReport', 'FRPL7|');
    const edited = { ...stored7.content, result: [...(stored7.content.result ?? []), { reference: `Observation/${foreign.id}` }] };
    expect((await fhir(server, token, 'PUT', `/fhir/DiagnosticReport/${stored7.id}`, edited)).status).toBe(200);

    await send(oru('RPL-17', 'RMRN1', 'FRPL7', 'F', [GLUCOSE('F')]));
    expect(Object.values(await results('FRPL7')).map((r) => r.status).sort()).toEqual(['entered-in-error', 'final']);
    expect((await results('FRPL2'))['2345-7']).toEqual(foreign);
  }, 120_000);

  it('discarded data stays discarded: after an opt-out nothing of the order is stored again, and after an opt-in only what is dated after it', async () => {
    const registrar = await userWithToken(server, { username: `rpl-registrar-${kind}`, role: 'registrar' });
    await send(oru('RPL-11', 'RMRN2', 'FRPL5', 'P', [GLUCOSE('P'), SODIUM('P'), POTASSIUM('P')]));
    const { patientId, personId } = await patientOf(server, FAC, 'RMRN2');
    expect((await consent(server, registrar, patientId, 'opt-out')).status).toBeLessThan(300);
    // What stays after an opt-out: the demographics that recognise the person and the consents (privacy-rules §2).
    const kept = `resource_type not in ('Patient', 'Person', 'Consent')`;
    const clinical = () => count(server, `select count(*)::int as n from resources where person_id = $1 and ${kept}`, [personId]);
    const history = () => count(server, `select count(*)::int as n from resource_history where person_id = $1 and ${kept}`, [personId]);
    expect(await clinical()).toBe(0);
    await send(oru('RPL-12', 'RMRN2', 'FRPL5', 'F', [GLUCOSE('F'), SODIUM('F')]));
    expect([await clinical(), await history()]).toEqual([0, 0]);

    expect((await consent(server, registrar, patientId, 'opt-in')).status).toBeLessThan(300);
    await send(oru('RPL-13', 'RMRN2', 'FRPL5', 'C', [GLUCOSE('C'), SODIUM('C')]));
    expect([await clinical(), await history()]).toEqual([0, 0]);

    // An order dated after the opt-in is stored, and its final withdraws the dropped line as for anyone.
    const later = new Date(Date.now() + 3_600_000).toISOString().replace(/[-:T]/g, '').slice(0, 14) + '+0000';
    await send(oru('RPL-14', 'RMRN2', 'FRPL6', 'P', [GLUCOSE('P'), SODIUM('P'), POTASSIUM('P')], later));
    await send(oru('RPL-15', 'RMRN2', 'FRPL6', 'F', [GLUCOSE('F'), SODIUM('F')], later));
    expect(Object.values(await results('FRPL6')).map((r) => r.status).sort()).toEqual(['entered-in-error', 'final', 'final']);
    expect(await stored('Observation', 'FRPL5|')).toHaveLength(0);
  }, 120_000);
});
