/** Runs axe-core in the page and returns the serious and critical WCAG 2.1 A/AA violations. */
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const AXE_PATH = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

export interface Violation {
  id: string;
  impact: string;
  help: string;
  targets: string[];
}

export async function seriousViolations(page: Page): Promise<Violation[]> {
  if (!(await page.evaluate('typeof window.axe !== "undefined"'))) await page.addScriptTag({ path: AXE_PATH });
  const result = (await page.evaluate(`axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
  }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact || '', help: v.help,
    targets: v.nodes.slice(0, 5).map((n) => String(n.target)) })))`)) as Violation[];
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}
