/** Documents (DocumentReference) and reports (DiagnosticReport, e.g. imaging), opened one at a time. */
import { useState } from 'react';
import type { Attachment, DiagnosticReport, DocumentReference } from '@medplum/fhirtypes';
import { conceptText, dateText } from '../record/display.ts';
import { clinicalDate, sourceName } from '../record/source.ts';
import { AttachmentView } from '../components/attachment-view.tsx';

interface DocItem {
  id: string;
  title: string;
  date?: string;
  source: string;
  attachments: Attachment[];
  conclusion?: string;
}

function fromDocument(d: DocumentReference): DocItem {
  return {
    id: `DocumentReference/${d.id ?? ''}`,
    title: d.description ?? (d.type ? conceptText(d.type) : 'Document'),
    date: clinicalDate(d),
    source: sourceName(d),
    attachments: (d.content ?? []).map((c) => c.attachment),
  };
}

function fromReport(r: DiagnosticReport): DocItem {
  return {
    id: `DiagnosticReport/${r.id ?? ''}`,
    title: conceptText(r.code),
    date: clinicalDate(r),
    source: sourceName(r),
    attachments: r.presentedForm ?? [],
    conclusion: r.conclusion,
  };
}

function DocRow({ item }: { item: DocItem }) {
  const [open, setOpen] = useState(false);
  const panelId = `doc-${item.id.replace(/[^a-zA-Z0-9-]/g, '-')}`;
  return (
    <li className="item">
      <span className="item-title">{item.title}</span>
      <span className="source">{dateText(item.date)} · {item.source}</span>
      {item.conclusion && <p>{item.conclusion}</p>}
      {item.attachments.length > 0 && (
        <button type="button" aria-expanded={open} aria-controls={panelId} onClick={() => setOpen(!open)}>
          {open ? 'Hide' : 'Show'} {item.title}
        </button>
      )}
      {open && (
        <div id={panelId} className="document">
          {item.attachments.map((a, i) => <AttachmentView key={i} attachment={a} />)}
        </div>
      )}
    </li>
  );
}

export function DocumentsTab({ documents, reports }: { documents: DocumentReference[]; reports: DiagnosticReport[] }) {
  // Lab panels are shown under Results; here only reports that carry text or a narrative conclusion.
  const readable = reports.filter((r) => (r.presentedForm?.length ?? 0) > 0 || r.conclusion);
  const items = [...documents.map(fromDocument), ...readable.map(fromReport)].sort((a, b) => (b.date ?? '').localeCompare(a.date ?? ''));
  if (!items.length) return <p className="muted">No documents or reports on record.</p>;
  return <ul className="items" aria-label="Documents and reports">{items.map((i) => <DocRow key={i.id} item={i} />)}</ul>;
}
