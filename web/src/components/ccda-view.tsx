/** A small C-CDA renderer: document header, then each section's title and narrative block (no XSLT). */
import type { ReactNode } from 'react';
import { Narrative } from './narrative.tsx';

function child(el: Element | null | undefined, name: string): Element | undefined {
  return el ? Array.from(el.children).find((c) => c.localName === name) : undefined;
}

function path(el: Element | null | undefined, ...names: string[]): Element | undefined {
  let cur: Element | undefined = el ?? undefined;
  for (const n of names) cur = child(cur, n);
  return cur;
}

function nameOf(el: Element | undefined): string {
  if (!el) return '';
  const parts = Array.from(el.children).filter((c) => ['prefix', 'given', 'family', 'suffix'].includes(c.localName));
  return (parts.length ? parts.map((p) => p.textContent?.trim()).join(' ') : el.textContent ?? '').trim();
}

function hl7Date(v: string | null | undefined): string {
  if (!v) return '';
  const m = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?/.exec(v);
  if (!m) return v;
  return [m[1], m[2], m[3]].filter(Boolean).join('-') + (m[4] ? ` ${m[4]}:${m[5] ?? '00'}` : '');
}

function Section({ section, depth }: { section: Element; depth: number }) {
  const title = child(section, 'title')?.textContent?.trim() || child(section, 'code')?.getAttribute('displayName') || 'Section';
  const text = child(section, 'text');
  const subsections = Array.from(section.children)
    .filter((c) => c.localName === 'component')
    .map((c) => child(c, 'section'))
    .filter((s): s is Element => Boolean(s));
  const Heading = (depth === 0 ? 'h4' : 'h5') as 'h4' | 'h5';
  return (
    <section className="ccda-section">
      <Heading>{title}</Heading>
      {text ? <Narrative root={text} /> : <p className="muted">No text in this section.</p>}
      {subsections.map((s, i) => <Section key={i} section={s} depth={depth + 1} />)}
    </section>
  );
}

export function CcdaView({ xml }: { xml: string }) {
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  const root = doc.documentElement;
  if (!root || root.localName !== 'ClinicalDocument' || doc.getElementsByTagName('parsererror').length) {
    return <pre className="document-text">{xml}</pre>;
  }
  const patient = path(root, 'recordTarget', 'patientRole', 'patient');
  const org = path(root, 'custodian', 'assignedCustodian', 'representedCustodianOrganization', 'name')?.textContent;
  const sections = Array.from(path(root, 'component', 'structuredBody')?.children ?? [])
    .map((c) => child(c, 'section'))
    .filter((s): s is Element => Boolean(s));
  const header: [string, ReactNode][] = [
    ['Patient', nameOf(child(patient, 'name'))],
    ['Date', hl7Date(child(root, 'effectiveTime')?.getAttribute('value'))],
    ['From', org ?? ''],
  ];
  return (
    <article className="ccda">
      <h4>{child(root, 'title')?.textContent ?? 'Clinical document'}</h4>
      <dl className="pairs">
        {header.filter(([, v]) => v).map(([k, v]) => (
          <div key={k}><dt>{k}</dt><dd>{v}</dd></div>
        ))}
      </dl>
      {sections.map((s, i) => <Section key={i} section={s} depth={0} />)}
      {!sections.length && <p className="muted">This document has no structured sections.</p>}
    </article>
  );
}
