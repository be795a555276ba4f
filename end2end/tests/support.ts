import { expect, type Browser, type Page } from '@playwright/test';

// Helpers shared by the spec files. Not a spec file itself (Playwright only
// runs *.spec.ts / *.test.ts), so importing it runs no tests. It holds no state:
// each spec file keeps its own dialog and error logs and passes them in.

declare global {
  interface Window {
    __shiplogHydrated?: boolean;
  }
}

export const PASSWORD = 'correct-horse-battery';
export const ADMIN = { name: 'Ada Admin', email: 'ada@example.com' };

export type EntryJson = { id: number; title: string; audience: string; kind: string; body_html: string };
export type DeployJson = {
  id: number;
  url: string;
  version: string;
  environment: string;
  status: string;
  entries: EntryJson[];
};

export function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is missing: run the whole file, in order`);
  return value;
}

/**
 * Runs in every page before its own scripts. Flags the page once the wasm
 * bundle has been instantiated and hydrated: wasm-bindgen's init and the
 * `hydrate()` call that follows it run as microtasks after instantiation, so
 * a timer set at that point fires only after they are done. A page whose wasm
 * never loads never gets the flag.
 */
export function hydrationProbe() {
  window.__shiplogHydrated = false;
  const wasm = WebAssembly as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const name of ['instantiate', 'instantiateStreaming']) {
    const original = wasm[name];
    if (typeof original !== 'function') continue;
    wasm[name] = (...args: unknown[]) => {
      const result = original.apply(WebAssembly, args);
      result.then(
        () => setTimeout(() => { window.__shiplogHydrated = true; }, 0),
        () => {},
      );
      return result;
    };
  }
}

export async function waitForHydration(page: Page) {
  await page.waitForFunction(() => window.__shiplogHydrated === true, undefined, { timeout: 20_000 });
}

/** A full page load, then wait until the app has hydrated (so on:click etc. work). */
export async function gotoHydrated(page: Page, url: string) {
  const response = await page.goto(url);
  await waitForHydration(page);
  return response;
}

/**
 * Logs every dialog in `page` to `dialogs` (as "type: message") and every
 * uncaught exception to `pageErrors` (a wasm panic shows up there). Dialogs are
 * dismissed; a `beforeunload` dialog is accepted instead when `beforeUnload`
 * (asked at the time the dialog opens) says 'accept'.
 */
export function watch(
  page: Page,
  dialogs: string[],
  pageErrors: string[],
  beforeUnload?: () => 'accept' | 'dismiss',
) {
  page.on('dialog', (dialog) => {
    dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    if (dialog.type() === 'beforeunload' && beforeUnload?.() === 'accept') void dialog.accept();
    else void dialog.dismiss();
  });
  page.on('pageerror', (error) => pageErrors.push(`${page.url()}: ${error.message}`));
}

/**
 * A new browser context signed in as `email` (with PASSWORD), its page
 * watched into `dialogs` and `errors`. Close it with `page.context().close()`.
 */
export async function signedIn(
  browser: Browser,
  baseURL: string | undefined,
  email: string,
  dialogs: string[],
  errors: string[],
): Promise<Page> {
  const context = await browser.newContext({ baseURL });
  await context.addInitScript(hydrationProbe);
  const page = await context.newPage();
  watch(page, dialogs, errors);
  await gotoHydrated(page, '/login');
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/app$/);
  return page;
}
