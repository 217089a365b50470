import { forbidden } from '../fhir/outcome.ts';
import type { AccessContext, PurposeOfUse } from './context.ts';
import { BULK_EXPORT_SCOPE } from './scopes.ts';

/** The purposes a bulk export may serve (privacy-rules §7): treatment, operations, the patient's own request. */
export const EXPORT_PURPOSES: readonly PurposeOfUse[] = ['TREAT', 'HOPERAT', 'PATRQT'];

/**
 * Who may start a bulk export, and for which purpose it is recorded (privacy-rules §7). What each export then holds
 * is decided row by row by the gate's export filter, as for any read:
 * - an HIE administrator, for operations (HOPERAT): demographics and the shared directory, no clinical data (§1);
 * - a system client an administrator registered with `katahdin/bulk-export`, for its token's purpose (treatment):
 *   its own organization's data and, with the query role, the records of persons in its care;
 * - a patient, for their own record (PATRQT).
 * Every other role is refused: clinicians read records one person at a time.
 */
export function exportPurpose(ctx: AccessContext): PurposeOfUse {
  switch (ctx.role) {
    case 'admin':
      return 'HOPERAT';
    case 'patient':
      return 'PATRQT';
    case 'system':
      if (!ctx.scopes.includes(BULK_EXPORT_SCOPE)) {
        throw forbidden(`This client is not enabled for bulk export: an HIE administrator registers it with the scope ${BULK_EXPORT_SCOPE}.`);
      }
      if (!EXPORT_PURPOSES.includes(ctx.purposeOfUse)) throw forbidden(`Bulk export serves treatment, operations or a patient's request, not ${ctx.purposeOfUse}.`);
      return ctx.purposeOfUse;
    default:
      throw forbidden('Bulk export is limited to HIE administrators, systems an administrator enabled for it, and patients for their own record.');
  }
}
