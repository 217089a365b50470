/**
 * Splits a file of ER7 text (batch files, exports, test corpora) into single messages:
 * strips a BOM, `//` and `/* … *\/` comment lines, blank lines and FHS/BHS/BTS/FTS batch envelopes,
 * and starts a new message at every MSH.
 */
export function splitMessages(text: string): string[] {
  const messages: string[][] = [];
  let inComment = false;
  for (const rawLine of text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/)) {
    const line = rawLine.replace(/\s+$/, '');
    if (inComment) {
      inComment = !line.includes('*/');
      continue;
    }
    if (line.trimStart().startsWith('/*')) {
      inComment = !line.includes('*/');
      continue;
    }
    if (line === '' || line.trimStart().startsWith('//') || /^(FHS|BHS|BTS|FTS)/.test(line)) continue;
    if (line.startsWith('MSH')) messages.push([line]);
    else if (messages.length) messages[messages.length - 1].push(line);
  }
  return messages.map((m) => m.join('\r'));
}
