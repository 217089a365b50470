/** Page timings and first-load JavaScript size, written to test-artifacts/web-metrics.json (reported, not asserted). */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Locator, Page } from 'playwright-core';

const ROOT = resolve(import.meta.dirname, '../../..');
const OUT_DIR = join(ROOT, 'test-artifacts');
const PIECES = join(OUT_DIR, 'web-metrics');
export const SCREENSHOTS = join(ROOT, 'docs/screenshots');

export interface PageTiming {
  page: string;
  /** Milliseconds from the user's action (navigation or click) until the screen's content is visible and usable. */
  timeToInteractiveMs: number;
  /** For full page loads: DOMContentLoaded from the Navigation Timing API. */
  domContentLoadedMs?: number;
}

export interface JsSize {
  files: string[];
  rawBytes: number;
  gzipBytes: number;
}

/** Sizes of the scripts index.html loads on first visit (module entry plus its preloads). */
export function firstLoadJs(): JsSize {
  const dist = join(ROOT, 'web/dist');
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const files = [...html.matchAll(/(?:src|href)="\/?(assets\/[^"]+\.js)"/g)].map((m) => m[1]);
  let rawBytes = 0;
  let gzipBytes = 0;
  for (const f of files) {
    const bytes = readFileSync(join(dist, f));
    rawBytes += bytes.length;
    gzipBytes += gzipSync(bytes, { level: 9 }).length;
  }
  return { files, rawBytes, gzipBytes };
}

/** Runs `action`, then waits for `ready` (a selector or locator) to be visible and returns the elapsed time. */
export async function timeUntil(page: Page, action: () => Promise<unknown>, ready: string | Locator, timeout = 60_000): Promise<number> {
  const start = Date.now();
  await action();
  if (typeof ready === 'string') await page.waitForSelector(ready, { state: 'visible', timeout });
  else await ready.first().waitFor({ state: 'visible', timeout });
  return Date.now() - start;
}

export async function domContentLoaded(page: Page): Promise<number | undefined> {
  const v = await page.evaluate(`(() => { const n = performance.getEntriesByType('navigation')[0]; return n ? Math.round(n.domContentLoadedEventEnd) : null; })()`);
  return typeof v === 'number' ? v : undefined;
}

/** Saves this scenario's timings, then rewrites the combined file from every scenario saved so far. */
export function saveMetrics(scenario: string, timings: PageTiming[]): void {
  mkdirSync(PIECES, { recursive: true });
  writeFileSync(join(PIECES, `${scenario}.json`), JSON.stringify(timings, null, 2));
  const pages: Record<string, PageTiming[]> = {};
  for (const f of readdirSync(PIECES).filter((x) => x.endsWith('.json'))) {
    pages[f.replace(/\.json$/, '')] = JSON.parse(readFileSync(join(PIECES, f), 'utf8')) as PageTiming[];
  }
  const combined = { measuredAt: new Date().toISOString(), firstLoadJs: firstLoadJs(), budgetGzipBytes: 400 * 1024, pages };
  writeFileSync(join(OUT_DIR, 'web-metrics.json'), JSON.stringify(combined, null, 2));
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
