import type { CcdaAct, CcdaObservation, CcdaProcedure } from '@medplum/ccda';
import type { Procedure } from '@medplum/fhirtypes';
import { attr, concept, effective, effectiveKey, firstCode, isNegated } from '../cda-values.ts';
import type { EntryContext } from '../context.ts';

const STATUS: Record<string, Procedure['status']> = {
  completed: 'completed',
  active: 'in-progress',
  aborted: 'stopped',
  cancelled: 'not-done',
  new: 'preparation',
  nullified: 'entered-in-error',
};

/** Procedure Activity Procedure / Act / Observation (4.14, 4.12, 4.13) → Procedure. */
export function mapProcedure(p: CcdaProcedure | CcdaAct | CcdaObservation, ctx: EntryContext): void {
  const code = concept(p.code);
  if (!code) return ctx.skip('procedure-without-code');
  const when = effective(p.effectiveTime);
  const resource: Procedure = {
    resourceType: 'Procedure',
    status: isNegated(p) ? 'not-done' : (STATUS[attr(p.statusCode, 'code') ?? ''] ?? 'completed'),
    code,
    subject: ctx.patient,
  };
  if (when.dateTime) resource.performedDateTime = when.dateTime;
  if (when.period) resource.performedPeriod = when.period;
  const site = concept((p as CcdaProcedure).targetSiteCode);
  if (site) resource.bodySite = [site];
  ctx.add(resource, p.id, ['Procedure', firstCode(code), effectiveKey(when)]);
}
