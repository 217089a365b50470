import type { Services } from '../services.ts';
import { processStoredCcda } from './ccda-pipeline.ts';
import { processStored } from './hl7v2-pipeline.ts';
import { ADMIN_RETRY, FIRST_RUN, getMessage, type InboxMessage, type InboxStatus } from './inbox.ts';

/** C-CDA documents arrive on the `ccda` and `import` channels with messageType ClinicalDocument; the rest is HL7 v2. */
const isCcda = (m: InboxMessage) => m.message_type === 'ClinicalDocument';

/**
 * Processes a stored inbox row with the pipeline of its kind, only from the given stored states (crash recovery
 * takes `received` rows; a retry also failed ones). A row settled meanwhile is answered, never applied again.
 */
export async function processInboxMessage(s: Services, message: InboxMessage, allowed: readonly InboxStatus[] = FIRST_RUN): Promise<{ status: string }> {
  return isCcda(message) ? processStoredCcda(s, message, undefined, undefined, allowed) : processStored(s, message, { allowed });
}

/**
 * An administrator's retry of one inbox row; undefined when it does not exist or its content was purged. A result
 * message older than what the record holds is acknowledged like a processed one but settled `superseded` (nothing
 * applied): the retry answers that, so the administrator is not told it was applied.
 */
export async function retryInboxMessage(s: Services, id: string): Promise<{ status: string } | undefined> {
  const message = await getMessage(s.db, s.auth.fieldCrypto, id);
  if (!message?.raw) return undefined;
  const outcome = await processInboxMessage(s, message, ADMIN_RETRY);
  if (outcome.status !== 'processed') return outcome;
  const settled = await getMessage(s.db, s.auth.fieldCrypto, id);
  return settled?.status === 'superseded' ? { status: 'superseded' } : outcome;
}
