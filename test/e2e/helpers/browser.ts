/** Launches Debian's headless Chromium through playwright-core; tests skip with a notice when it is absent. */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`${CHROMIUM} absent: skipping browser end-to-end tests (apt-get install -y chromium)`);

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export function newContext(browser: Browser, baseURL: string, phone = false): Promise<BrowserContext> {
  return browser.newContext({
    baseURL,
    viewport: phone ? { width: 360, height: 740 } : { width: 1280, height: 900 },
    acceptDownloads: true,
    // The server sends a strict CSP (default-src 'self'); bypassing it lets the tests inject axe-core.
    bypassCSP: true,
  });
}
