import type { AccessReportRow } from './reports.ts';

export interface RenderOptions {
  /** IANA time zone for displayed times (default UTC). */
  timeZone?: string;
  /** Generation time printed on the report. */
  generatedAt?: Date;
}

export function formatTime(iso: string, timeZone = 'UTC'): string {
  return new Intl.DateTimeFormat('en-US', {
    timeZone, year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short',
  }).format(new Date(iso));
}

/** RFC 4180 quoting, plus a leading apostrophe on text a spreadsheet would run as a formula. */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

const HEADERS = ['Date and time', 'Name', 'Role', 'Organization', 'Action', 'Purpose', 'Emergency access'];

function cells(row: AccessReportRow, timeZone?: string): string[] {
  return [formatTime(row.time, timeZone), row.userName, row.role, row.organization, row.action, row.purpose, row.emergency ? 'Yes' : 'No'];
}

/** The report as CSV (CRLF line ends, header row). */
export function accessReportCsv(rows: AccessReportRow[], opts: RenderOptions = {}): string {
  const lines = [HEADERS, ...rows.map((r) => cells(r, opts.timeZone))].map((l) => l.map(csvCell).join(','));
  return lines.join('\r\n') + '\r\n';
}

export interface PdfOptions extends RenderOptions {
  /** The patient's name, printed in the title. */
  personName: string;
  rowsPerPage?: number;
  /** Off only for tests that read the text back. */
  compress?: boolean;
}

const WIDTHS = [110, 110, 80, 120, 150, 90, 60];
const MARGIN = 36;
const ROW_HEIGHT = 26;
const EMERGENCY_FILL = '#ffe08a';

function drawRow(doc: PDFKit.PDFDocument, values: string[], y: number, opts: { bold?: boolean; fill?: string }): void {
  const width = WIDTHS.reduce((a, b) => a + b, 0);
  if (opts.fill) doc.rect(MARGIN, y - 3, width, ROW_HEIGHT).fill(opts.fill).fillColor('black');
  doc.font(opts.bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(8.5);
  let x = MARGIN;
  values.forEach((v, i) => {
    doc.text(v, x + 2, y, { width: WIDTHS[i] - 4, height: ROW_HEIGHT - 4, ellipsis: true, lineBreak: true });
    x += WIDTHS[i];
  });
}

function drawPageHeader(doc: PDFKit.PDFDocument, opts: PdfOptions, generated: string): number {
  doc.font('Helvetica-Bold').fontSize(16).text(`Who viewed the health record of ${opts.personName}`, MARGIN, MARGIN);
  doc.font('Helvetica').fontSize(9)
    .text(`Generated ${generated} by Katahdin health information exchange. Emergency (break-the-glass) access is highlighted.`);
  const y = doc.y + 10;
  drawRow(doc, HEADERS, y, { bold: true, fill: '#e4e8ee' });
  return y + ROW_HEIGHT;
}

/** The report as a PDF: title with the person's name, generation date, a table of N rows per page, emergency rows highlighted. */
export async function accessReportPdf(rows: AccessReportRow[], opts: PdfOptions): Promise<Buffer> {
  // Loaded with the first PDF: pdfkit's fonts and codecs are ~25 MB of RSS that a server rendering none never needs.
  const { default: PDFDocument } = await import('pdfkit');
  const doc = new PDFDocument({ size: 'LETTER', layout: 'landscape', margin: MARGIN, compress: opts.compress ?? true, bufferPages: true });
  doc.info.Title = `Access report for ${opts.personName}`;
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  const generated = formatTime((opts.generatedAt ?? new Date()).toISOString(), opts.timeZone);
  const perPage = opts.rowsPerPage ?? 18;
  let y = drawPageHeader(doc, opts, generated);
  if (rows.length === 0) doc.font('Helvetica').fontSize(10).text('No one outside your own use has accessed this record.', MARGIN, y + 6);
  rows.forEach((row, i) => {
    if (i > 0 && i % perPage === 0) {
      doc.addPage();
      y = drawPageHeader(doc, opts, generated);
    }
    drawRow(doc, cells(row, opts.timeZone), y, { fill: row.emergency ? EMERGENCY_FILL : undefined, bold: row.emergency });
    y += ROW_HEIGHT;
  });
  const range = doc.bufferedPageRange();
  for (let p = range.start; p < range.start + range.count; p++) {
    doc.switchToPage(p);
    // Writing inside the bottom margin would otherwise make pdfkit start a new page.
    doc.page.margins.bottom = 0;
    doc.font('Helvetica').fontSize(8)
      .text(`Page ${p + 1} of ${range.count}`, MARGIN, doc.page.height - MARGIN - 10, { lineBreak: false });
  }
  doc.end();
  return done;
}
