import type { Attachment } from '@medplum/fhirtypes';

/** Plain text → base64 text/plain attachment. */
export function textAttachment(text: string, title?: string): Attachment {
  return { contentType: 'text/plain; charset=utf-8', data: Buffer.from(text, 'utf8').toString('base64'), ...(title ? { title } : {}) };
}
