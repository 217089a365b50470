/** Signs in through the server's own login page (authorization code + PKCE started by the web app). */
import type { Page } from 'playwright-core';
import { TOTP } from 'otpauth';

export const DEMO_PASSWORD = 'katahdin-demo';

function totpCode(secret: string): string {
  return new TOTP({ secret, digits: 6, period: 30, algorithm: 'SHA1' }).generate();
}

/** On the server's login page: username/password, then the TOTP step when the role requires it. */
export async function submitLogin(page: Page, username: string, password: string, totpSecret?: string): Promise<void> {
  await page.waitForSelector('#username');
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
  await page.waitForLoadState('domcontentloaded');
  if (new URL(page.url()).pathname.startsWith('/oauth') && (await page.locator('#code').count())) {
    // Enrolment shows the secret on the page; otherwise it comes from the server log.
    const shown = (await page.locator('code').count()) ? (await page.locator('code').first().textContent())?.trim() : undefined;
    const secret = shown || totpSecret;
    if (!secret) throw new Error(`no TOTP secret available for ${username}`);
    await page.fill('#code', totpCode(secret));
    await page.click('button[type=submit]');
  }
  await page.waitForURL((u) => !u.pathname.startsWith('/oauth') && u.pathname !== '/callback', { timeout: 30_000 });
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** From the welcome page: Sign in → the server's login page → back in the app. */
export async function signIn(page: Page, username: string, totpSecret?: string): Promise<void> {
  await page.goto('/');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await submitLogin(page, username, DEMO_PASSWORD, totpSecret);
}

export async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Welcome to Katahdin' }).waitFor();
}
