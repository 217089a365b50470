/** Opens one attachment (inline data or a Binary on the server) and shows it readably. */
import { useEffect, useState } from 'react';
import type { Attachment } from '@medplum/fhirtypes';
import { readAttachmentUrl } from '../api/fhir.ts';
import { decodeBase64Utf8, kindOf } from '../record/attachment.ts';
import { useAsync } from './use-async.ts';
import { ErrorMessage, Loading } from './status.tsx';
import { CcdaView } from './ccda-view.tsx';
import { HtmlDocument } from './narrative.tsx';

interface Loaded {
  contentType?: string;
  text?: string;
  bytes?: string;
}

async function load(a: Attachment): Promise<Loaded> {
  if (a.data) return { contentType: a.contentType, bytes: a.data };
  if (!a.url) return { contentType: a.contentType, text: '' };
  const r = await readAttachmentUrl(a.url);
  return { contentType: r.contentType ?? a.contentType, text: r.text, bytes: r.data };
}

function PdfLink({ base64 }: { base64: string }) {
  const [href, setHref] = useState<string>();
  useEffect(() => {
    const bin = atob(base64);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const url = URL.createObjectURL(new Blob([bytes], { type: 'application/pdf' }));
    setHref(url);
    return () => URL.revokeObjectURL(url);
  }, [base64]);
  return href ? <a href={href} download="document.pdf">Download the PDF document</a> : null;
}

export function AttachmentView({ attachment }: { attachment: Attachment }) {
  const state = useAsync(() => load(attachment), [attachment]);
  if (state.loading) return <Loading what="document" />;
  if (state.error || !state.data) return <ErrorMessage error={state.error} />;
  const { contentType, bytes } = state.data;
  const kind = kindOf(contentType, state.data.text);
  if (kind === 'pdf' && bytes) return <PdfLink base64={bytes} />;
  const text = state.data.text ?? (bytes ? decodeBase64Utf8(bytes) : '');
  const finalKind = kindOf(contentType, text);
  if (finalKind === 'ccda') return <CcdaView xml={text} />;
  if (finalKind === 'html') return <HtmlDocument html={text} />;
  if (finalKind === 'other') return <p>This document type ({contentType}) cannot be shown here.</p>;
  return <pre className="document-text">{text || 'This document is empty.'}</pre>;
}
