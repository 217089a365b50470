/** Waiting assertions for playwright-core locators under vitest (playwright-core has no `expect`). */
import type { Locator } from 'playwright-core';

export async function visible(locator: Locator, timeout = 15_000): Promise<void> {
  await locator.waitFor({ state: 'visible', timeout });
}

/** Waits until the locator's text contains `text`; fails with the last text seen. */
export async function hasText(locator: Locator, text: string, timeout = 15_000): Promise<void> {
  const until = Date.now() + timeout;
  let last = '';
  while (Date.now() < until) {
    last = (await locator.first().textContent({ timeout: Math.max(1, until - Date.now()) }).catch(() => '')) ?? '';
    if (last.includes(text)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`expected text containing "${text}", last saw: "${last.slice(0, 300)}"`);
}
