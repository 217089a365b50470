/**
 * Renders untrusted markup (C-CDA narrative blocks, HTML documents) as React elements from an allow-list of tags.
 * Nothing is injected as raw HTML: attributes, scripts, styles and links are dropped; text goes through React's escaping.
 */
import { createElement, type ReactNode } from 'react';

const TAG_MAP: Record<string, string> = {
  paragraph: 'p', content: 'span', list: 'ul', item: 'li', caption: 'caption', linkhtml: 'span', footnote: 'small',
  p: 'p', div: 'div', span: 'span', br: 'br', b: 'strong', strong: 'strong', i: 'em', em: 'em', u: 'span', sub: 'sub', sup: 'sup',
  table: 'table', thead: 'thead', tbody: 'tbody', tfoot: 'tfoot', tr: 'tr', th: 'th', td: 'td', ul: 'ul', ol: 'ol', li: 'li',
  h1: 'strong', h2: 'strong', h3: 'strong', h4: 'strong', h5: 'strong', h6: 'strong', pre: 'pre', code: 'code', blockquote: 'blockquote',
};

const DROP = new Set(['script', 'style', 'iframe', 'object', 'embed', 'rendermultimedia', 'head', 'title', 'meta', 'link', 'form', 'input', 'button']);

function tagFor(el: Element): string | null {
  const name = el.localName.toLowerCase();
  if (DROP.has(name)) return null;
  if (name === 'list' && el.getAttribute('listType') === 'ordered') return 'ol';
  return TAG_MAP[name] ?? 'span';
}

function convert(node: Node, key: number): ReactNode {
  if (node.nodeType === Node.TEXT_NODE) return node.textContent;
  if (node.nodeType !== Node.ELEMENT_NODE) return null;
  const el = node as Element;
  const tag = tagFor(el);
  if (!tag) return null;
  if (tag === 'br') return createElement('br', { key });
  const children = Array.from(el.childNodes).map(convert);
  const block = tag === 'strong' && /^h[1-6]$/.test(el.localName) ? createElement('p', { key }, createElement('strong', null, children)) : null;
  if (block) return block;
  if (tag === 'table') return createElement('div', { key, className: 'table-scroll', role: 'region', 'aria-label': 'Document table', tabIndex: 0 }, createElement('table', null, wrapRows(children, el)));
  return createElement(tag, { key }, children);
}

/** CDA tables may put <tr> straight under <table>; browsers need a <tbody> in React's DOM. */
function wrapRows(children: ReactNode[], table: Element): ReactNode {
  const hasDirectRows = Array.from(table.children).some((c) => c.localName.toLowerCase() === 'tr');
  return hasDirectRows ? createElement('tbody', null, children) : children;
}

export function Narrative({ root }: { root: Node }) {
  return <div className="narrative">{Array.from(root.childNodes).map(convert)}</div>;
}

/** Sanitized view of an HTML document. */
export function HtmlDocument({ html }: { html: string }) {
  const doc = new DOMParser().parseFromString(html, 'text/html');
  return <Narrative root={doc.body} />;
}
