/** Decoding attachments and deciding how to show them. Pure (uses only standard web APIs). */
import type { Attachment } from '@medplum/fhirtypes';

export type DocumentKind = 'ccda' | 'html' | 'text' | 'pdf' | 'other';

export function decodeBase64Utf8(data: string): string {
  const binary = atob(data);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

export function kindOf(contentType: string | undefined, text?: string): DocumentKind {
  const t = (contentType ?? '').toLowerCase();
  if (t.includes('pdf')) return 'pdf';
  if (t.includes('html')) return 'html';
  if (t.includes('xml') || text?.trimStart().startsWith('<?xml') || text?.includes('<ClinicalDocument')) return 'ccda';
  if (t.startsWith('text/') || t === '') return 'text';
  return 'other';
}

export function attachmentLabel(a: Attachment): string {
  return a.title ?? a.contentType ?? 'Attachment';
}
