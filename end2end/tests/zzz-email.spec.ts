import { expect, test, type Page } from '@playwright/test';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ADMIN, PASSWORD, gotoHydrated, hydrationProbe, watch } from './support';

// Release notes by email, as customers and a PM use them. Sorted after
// zz-releases.spec.ts: it announces a release that file published, on the
// same server and database. Mail goes to the run's outbox folder (no SMTP
// server), which these tests read as the customer's inbox.

const mailDir = path.join(process.env.SHIPLOG_E2E_DIR ?? path.join(tmpdir(), 'shiplog-e2e'), 'mail');
const run = Date.now().toString(36);
const READER = `reader-${run}@example.com`;
const PEOPLE = [1, 2, 3].map((i) => `customer-${run}-${i}@example.com`);

/** Every message in the outbox to `to`, oldest first, with soft line breaks undone. */
function inbox(to: string): string[] {
  let files: string[] = [];
  try {
    files = readdirSync(mailDir).sort();
  } catch {
    return [];
  }
  return files
    .map((f) => readFileSync(path.join(mailDir, f), 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '='))
    .filter((m) => m.includes(`To: ${to}`));
}

async function firstLink(to: string, prefix: string): Promise<string> {
  let found: string | undefined;
  await expect
    .poll(() => {
      const m = inbox(to).reverse().find((x) => x.includes(prefix));
      found = m?.slice(m.indexOf('http', m.indexOf(prefix) - 40)).split(/[\s"<>]/)[0];
      return found?.includes(prefix) ?? false;
    }, { message: `a message to ${to} with a ${prefix} link` })
    .toBe(true);
  return found as string;
}

test.describe('Release notes by email', () => {
  test.describe.configure({ mode: 'serial' });
  const dialogs: string[] = [];
  const pageErrors: string[] = [];
  let admin: Page;

  test.beforeAll(async ({ browser }, testInfo) => {
    const context = await browser.newContext({ baseURL: testInfo.project.use.baseURL });
    await context.addInitScript(hydrationProbe);
    admin = await context.newPage();
    watch(admin, dialogs, pageErrors);
  });

  test.afterAll(async () => {
    await admin?.context().close();
  });

  test.afterEach(() => {
    expect(pageErrors, 'uncaught errors in the page').toEqual([]);
  });

  test('E1. a reader subscribes without JavaScript, confirms from the email, chooses, and unsubscribes', async ({ browser, baseURL }) => {
    const context = await browser.newContext({ baseURL, javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto('/');
    const form = page.getByRole('form', { name: 'Subscribe by email' });
    await form.getByLabel('Get release notes by email').fill(READER);
    await form.getByRole('button', { name: 'Subscribe' }).click();
    await expect(page.getByRole('heading', { name: 'Check your inbox' })).toBeVisible();
    expect(inbox(READER).length).toBe(1);

    const confirm = await firstLink(READER, '/subscribe/confirm');
    await page.goto(confirm);
    await expect(page.getByRole('heading', { name: 'You are subscribed' })).toBeVisible();
    await page.getByRole('link', { name: 'Choose what you receive' }).click();
    await expect(page.getByRole('heading', { name: 'Your email subscription' })).toBeVisible();
    await expect(page.getByText(READER)).toBeVisible();

    await page.getByLabel('A digest of every change that reached production').selectOption('weekly');
    await page.getByRole('checkbox', { name: 'New' }).uncheck();
    await page.getByRole('button', { name: 'Save my choices' }).click();
    await expect(page.getByText('Your choices are saved.')).toBeVisible();
    await expect(page.getByLabel('A digest of every change that reached production')).toHaveValue('weekly');
    await expect(page.getByRole('checkbox', { name: 'New' })).not.toBeChecked();

    await page.getByRole('button', { name: 'Unsubscribe from everything' }).click();
    await expect(page.getByRole('heading', { name: 'You are unsubscribed' })).toBeVisible();
    await context.close();
  });

  test('E2. a PM imports subscribers, previews, tests and sends an announcement, and watches it finish', async () => {
    const page = admin;
    await gotoHydrated(page, '/login');
    await page.getByLabel('Email', { exact: true }).fill(ADMIN.email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page).toHaveURL(/\/app$/);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Subscribers' }).click();
    await expect(page.getByRole('heading', { name: 'Subscribers', level: 1 })).toBeVisible();
    const panel = page.getByRole('region', { name: 'Import from CSV' });
    await panel.getByLabel('CSV').fill(`email,digest\n${PEOPLE.join(',off\n')},off\nnot-an-address,off\n`);
    await panel.getByRole('checkbox').check();
    await panel.getByRole('button', { name: 'Preview' }).click();
    await expect(panel.getByRole('status')).toContainText('1 rows are rejected, so nothing is added; 3 rows are fine.');
    await expect(panel.getByRole('table', { name: 'Rejected rows' })).toContainText('is not an email address');
    await panel.getByLabel('CSV').fill(`email,digest\n${PEOPLE.join(',off\n')},off\n`);
    await panel.getByRole('button', { name: 'Preview' }).click();
    await expect(panel.getByRole('status')).toContainText('3 subscribers can be imported');
    await panel.getByRole('button', { name: 'Import' }).click();
    await expect(panel.getByRole('status')).toContainText('Imported 3 subscribers.');
    await page.getByRole('searchbox', { name: 'Address' }).fill(`customer-${run}`);
    await expect(page.getByRole('row').filter({ hasText: PEOPLE[0] })).toContainText('Confirmed');
    for (const p of PEOPLE) expect(inbox(p), 'consented people get no confirmation request').toEqual([]);

    // A full load once an account exists hydrates, and its account filter
    // works (it panicked: the filter's options were rendered outside the
    // page's Transition, none on the server and some in the browser).
    const account = `e2e-${run}`;
    const made = await page.request.post('/fn/create_account', {
      form: { slug: account, name: `E2E ${run}` },
      headers: { Accept: 'application/json', Origin: new URL(page.url()).origin },
    });
    expect(made.status(), await made.text()).toBe(200);
    await gotoHydrated(page, '/app/subscribers');
    const byAccount = page.getByRole('combobox', { name: 'Account', exact: true });
    await expect(byAccount.getByRole('option', { name: account })).toHaveCount(1);
    await byAccount.selectOption(account);
    await expect(page.getByText('No subscriber matches.')).toBeVisible();
    await expect(byAccount).toHaveValue(account);
    await byAccount.selectOption('');
    await expect(page.getByText('No subscriber matches.')).toBeHidden();
    expect(pageErrors, 'uncaught errors in the page').toEqual([]);

    await gotoHydrated(page, '/app/campaigns');
    await page.getByRole('table').getByRole('link', { name: 'Summer update (e2e)' }).click();
    await expect(page.getByRole('heading', { name: /^Announcement: / })).toBeVisible();
    await expect(page.getByTestId('campaign-status')).toHaveText('Draft');

    const preview = page.getByRole('region', { name: 'Preview' });
    await preview.getByLabel("Subscriber's address").fill(PEOPLE[0]);
    await preview.getByRole('button', { name: 'Preview' }).click();
    await expect(page.getByTestId('preview-subject')).not.toBeEmpty();
    await expect(preview.locator('iframe.email-preview')).toBeVisible();
    await preview.getByRole('button', { name: 'Send me a test' }).click();
    await expect(page.getByText(`A test was sent to ${ADMIN.email}.`)).toBeVisible();
    await expect.poll(() => inbox(ADMIN.email).some((m) => m.includes('Subject: [Test]'))).toBe(true);

    await page.getByRole('button', { name: 'Send now' }).click();
    await expect(page.getByTestId('campaign-status')).toHaveText('Sent', { timeout: 30_000 });
    await expect(page.getByTestId('campaign-counts')).toContainText('0 remaining');
    for (const p of PEOPLE) {
      await expect.poll(() => inbox(p).length, { message: `${p} got the announcement` }).toBe(1);
      expect(inbox(p)[0]).toContain('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    }
    expect(inbox(READER).filter((m) => m.includes('List-Unsubscribe')), 'an unsubscribed reader gets nothing').toEqual([]);
  });

  test('E3. a reader who subscribes at the foot of a page, choosing nothing, hears about a new feature', async ({ browser, baseURL }) => {
    const reader = `footer-${run}@example.com`;
    const context = await browser.newContext({ baseURL, javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto('/changes');
    const form = page.getByRole('form', { name: 'Subscribe by email' });
    await form.getByLabel('Get release notes by email').fill(reader);
    await form.getByRole('button', { name: 'Subscribe' }).click();
    await expect(page.getByRole('heading', { name: 'Check your inbox' })).toBeVisible();
    await page.goto(await firstLink(reader, '/subscribe/confirm'));
    await expect(page.getByRole('heading', { name: 'You are subscribed' })).toBeVisible();
    // What they get unless they choose: every kind of change.
    await page.getByRole('link', { name: 'Choose what you receive' }).click();
    for (const kind of ['New', 'Fixed', 'Improved', 'Security']) {
      await expect(page.getByRole('checkbox', { name: kind })).toBeChecked();
    }
    await context.close();

    // The PM announces the spring release, whose saved searches are a feature.
    const admin_ = admin;
    await gotoHydrated(admin_, '/app/campaigns');
    await admin_.getByRole('table').getByRole('link', { name: 'Spring launch (e2e)' }).click();
    await expect(admin_.getByTestId('campaign-status')).toHaveText('Draft');
    await admin_.getByRole('button', { name: 'Send now' }).click();
    await expect(admin_.getByTestId('campaign-status')).toHaveText('Sent', { timeout: 30_000 });
    await expect
      .poll(() => inbox(reader).filter((m) => m.includes('Saved searches (e2e)')).length, { message: `${reader} got the announcement of a feature` })
      .toBe(1);
  });
});
