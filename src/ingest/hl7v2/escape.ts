import type { Hl7Context } from '@medplum/core';

/**
 * Decodes HL7 escape sequences (\F\ \S\ \T\ \R\ \E\ \Xhh\ \.br\ …) using the message's own
 * encoding characters. Unknown or formatting-only sequences are dropped rather than kept raw.
 */
export function unescapeHl7(value: string, ctx: Hl7Context): string {
  const esc = ctx.escapeCharacter;
  if (!esc || !value.includes(esc)) return value;
  let out = '';
  let i = 0;
  while (i < value.length) {
    const ch = value[i];
    const end = ch === esc ? value.indexOf(esc, i + 1) : -1;
    if (end < 0) {
      out += ch;
      i += 1;
      continue;
    }
    out += decodeSequence(value.slice(i + 1, end), ctx);
    i = end + 1;
  }
  return out;
}

function decodeSequence(seq: string, ctx: Hl7Context): string {
  switch (seq) {
    case 'F': return ctx.fieldSeparator;
    case 'S': return ctx.componentSeparator;
    case 'T': return ctx.subcomponentSeparator;
    case 'R': return ctx.repetitionSeparator;
    case 'E': return ctx.escapeCharacter;
    case '.br': return '\n';
    default: break;
  }
  if (/^X([0-9A-Fa-f]{2})+$/.test(seq)) return Buffer.from(seq.slice(1), 'hex').toString('latin1');
  if (seq.startsWith('.sp')) return '\n';
  // \H\ \N\ (highlighting), \Zxx\ \Cxxxx\ \Mxxxx\ and .in/.ti/.sk/.ce/.fi/.nf are presentation hints.
  return '';
}

/** Encodes text so it can sit inside one ER7 component (used when building ACK/ERR). */
export function escapeHl7(value: string, ctx: Hl7Context): string {
  let out = '';
  for (const ch of value) {
    if (ch === ctx.escapeCharacter) out += `${ctx.escapeCharacter}E${ctx.escapeCharacter}`;
    else if (ch === ctx.fieldSeparator) out += `${ctx.escapeCharacter}F${ctx.escapeCharacter}`;
    else if (ch === ctx.componentSeparator) out += `${ctx.escapeCharacter}S${ctx.escapeCharacter}`;
    else if (ch === ctx.subcomponentSeparator) out += `${ctx.escapeCharacter}T${ctx.escapeCharacter}`;
    else if (ch === ctx.repetitionSeparator) out += `${ctx.escapeCharacter}R${ctx.escapeCharacter}`;
    else if (ch === '\r' || ch === '\n') out += ' ';
    else out += ch;
  }
  return out;
}
