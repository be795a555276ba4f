import AxeBuilder from '@axe-core/playwright';
import { expect, test, type APIRequestContext, type Locator, type Page } from '@playwright/test';
import {
  ADMIN,
  PASSWORD,
  gotoHydrated,
  hydrationProbe,
  need,
  waitForHydration,
  watch,
  type DeployJson,
} from './support';

// One story, in order, against one server and one fresh database: the first
// admin sets Shiplog up, invites a teammate, creates a CI token, CI records a
// deploy, the admin edits an entry, customers read the public notes.
// Each test builds on the ones before it, so they run serially and a failure
// skips the rest.

declare global {
  interface Window {
    __xss?: unknown;
    __e2eMarker?: string;
  }
}

const INVITEE = { name: 'Dana Engineer', email: 'dana@example.com' };
const TOKEN_NAME = 'GitHub Actions (e2e)';

const VERSION = '2026.11.26-1';
const LATER_VERSION = '2026.11.26-2';
const STAGING_VERSION = '2026.11.26-rc1';

const FEATURE = {
  title: 'Export the deploy log as CSV',
  body: 'Download every deploy as a *CSV* file.',
  kind: 'feature',
  audience: 'everyone',
  risk: 'low',
  component: 'exports',
  links: ['https://example.com/docs/export'],
};
const EDITED_TITLE = 'Export the deploy log as CSV or JSON';
// Customers never see it: its audience is internal (its kind alone would be public).
const INTERNAL = {
  title: 'Rotate the database credentials',
  body: 'Ops only: new credentials are in the vault.',
  kind: 'improvement',
  audience: 'internal',
  risk: 'medium',
  component: 'infra',
};
// A body that tries every way to run script; it must render as inert text.
const XSS = {
  title: 'Release notes render Markdown safely',
  body: [
    'Harmless text stays.',
    '',
    '<script>window.__xss=1</script>',
    '',
    '[click](javascript:alert(1)) and <a href="javascript:window.__xss=3">raw link</a>',
    '',
    // alt="x" so the leftover <img> is not itself an accessibility failure in test 9.
    '<img src=x alt="x" onerror="window.__xss=2">',
  ].join('\n'),
  kind: 'fix',
  audience: 'everyone',
  risk: 'low',
  component: 'notes',
};

// State handed from test to test (the file runs in one worker, in order).
let admin: Page; // the admin's tab, signed in from test 1 on
const dialogs: string[] = []; // any alert/confirm/prompt in the admin's tab
const pageErrors: string[] = []; // uncaught exceptions (a wasm panic shows up here)
let tokenSecret: string | undefined;
let deployId: number | undefined;
let entryIds: { feature: number; internal: number; xss: number } | undefined;

/**
 * Clicks a button whose handler exists only after hydration, until `shown`
 * appears. Retrying makes it independent of exactly when hydration finished;
 * it still fails if the page never hydrates.
 */
async function clickUntil(button: Locator, shown: Locator) {
  await expect(async () => {
    if (!(await shown.isVisible())) await button.click({ timeout: 2_000 });
    await expect(shown).toBeVisible({ timeout: 2_000 });
  }).toPass({ timeout: 20_000 });
}

/** The XSS entry's rendered body holds nothing that runs, and nothing ran. */
async function expectHarmless(page: Page, body: Locator) {
  await expect(body).toContainText('Harmless text stays.');
  // The <img> has had its chance to fire onerror.
  await page.waitForFunction(() => Array.from(document.images).every((img) => img.complete));
  const html = await body.innerHTML();
  expect(html).not.toMatch(/<script/i);
  expect(html).not.toMatch(/javascript:/i);
  expect(html).not.toMatch(/onerror/i);
  await expect(page.locator('a[href^="javascript:" i], [onerror]')).toHaveCount(0);
  expect(await page.evaluate(() => typeof window.__xss)).toBe('undefined');
  expect(dialogs).toEqual([]);
}

async function postDeploy(request: APIRequestContext, data: object, token = need(tokenSecret, 'the API token')) {
  return request.post('/api/v1/deploys', {
    headers: { Authorization: `Bearer ${token}` },
    data,
  });
}

test.describe('Shiplog', () => {
  test.describe.configure({ mode: 'serial' });

  // One tab for the admin across tests, so the session cookie carries over.
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

  test('1. first run: only /setup is reachable, and it creates the first admin', async () => {
    const page = admin;
    await page.goto('/app');
    await expect(page).toHaveURL(/\/setup$/);
    await page.goto('/login');
    await expect(page).toHaveURL(/\/setup$/);
    await waitForHydration(page);
    await expect(page.getByRole('heading', { name: 'Create the first admin account', level: 1 })).toBeVisible();

    await page.getByLabel('Your name').fill(ADMIN.name);
    await page.getByLabel('Email', { exact: true }).fill(ADMIN.email);
    await page.getByLabel(/^Password/).fill(PASSWORD);
    await page.getByRole('button', { name: 'Create admin account' }).click();

    await expect(page).toHaveURL(/\/app$/);
    await expect(page.getByRole('heading', { name: 'Deploy log', level: 1 })).toBeVisible();
    await expect(page.getByRole('banner').getByText(ADMIN.name)).toBeVisible();

    // Setup closes for good once an admin exists (signed in: on to the app).
    await page.goto('/setup');
    await expect(page).toHaveURL(/\/app$/);
  });

  test('2. sign out, a wrong password is refused, the right one signs in', async () => {
    const page = admin;
    await gotoHydrated(page, '/app');
    await page.getByTestId('logout').click();
    await expect(page).toHaveURL(/\/login$/);
    await expect(page.getByRole('heading', { name: 'Sign in', level: 1 })).toBeVisible();

    // Signed out, the app sends people to sign-in, remembering where they were going.
    await gotoHydrated(page, '/app');
    await expect(page).toHaveURL(/\/login\?next=%2Fapp$/);

    await page.getByLabel('Email', { exact: true }).fill(ADMIN.email);
    await page.getByLabel('Password', { exact: true }).fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByText(/do not match/)).toBeVisible();
    await expect(page).toHaveURL(/\/login/);

    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page).toHaveURL(/\/app$/);
    await expect(page.getByRole('heading', { name: 'Deploy log', level: 1 })).toBeVisible();
    await expect(page.getByRole('banner').getByText(ADMIN.name)).toBeVisible();
  });

  test('3. the app hydrates: navigation happens in the page, without a reload', async () => {
    // No deploy exists yet, so the entry editor is exercised in test 7; here the
    // proof is the router. A value on `window` survives only a client-side
    // navigation: without hydration the click is a full page load and it is gone.
    const page = admin;
    await gotoHydrated(page, '/app');
    await page.evaluate(() => { window.__e2eMarker = 'same document'; });

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API tokens' }).click();
    await expect(page).toHaveURL(/\/app\/tokens$/);
    await expect(page.getByRole('heading', { name: 'API tokens', level: 1 })).toBeVisible();
    expect(await page.evaluate(() => window.__e2eMarker)).toBe('same document');
  });

  test('4. an admin invites a teammate, who joins through the link', async ({ browser, baseURL }) => {
    const page = admin;
    await gotoHydrated(page, '/app/people');
    const invite = page.getByRole('region', { name: 'Invite someone', exact: true });
    await invite.getByLabel('Email', { exact: true }).fill(INVITEE.email);
    await invite.locator('select[name="role"]').selectOption('engineer');
    await invite.getByRole('button', { name: 'Send invitation' }).click();

    // No SMTP server is configured, so the link is shown to the admin.
    const linkField = page.getByTestId('invite-link');
    await expect(linkField).toHaveValue(/\/invite\/[^/\s]+$/);
    const link = await linkField.inputValue();
    expect(link.startsWith(`${baseURL}/invite/`)).toBe(true);
    await expect(
      page.getByRole('table', { name: 'Pending invitations' }).getByRole('cell', { name: INVITEE.email }),
    ).toBeVisible();

    // The invitee: another browser, nobody signed in.
    const context = await browser.newContext({ baseURL });
    await context.addInitScript(hydrationProbe);
    try {
      const guest = await context.newPage();
      watch(guest, dialogs, pageErrors);
      await gotoHydrated(guest, link);
      await expect(guest.getByText(/You were invited as/)).toContainText(`Engineer with ${INVITEE.email}`);
      await guest.getByLabel('Your name').fill(INVITEE.name);
      await guest.getByLabel(/password/i).fill(PASSWORD);
      await guest.getByRole('button', { name: 'Join' }).click();

      await expect(guest).toHaveURL(/\/app$/);
      await expect(guest.getByRole('heading', { name: 'Deploy log', level: 1 })).toBeVisible();
      await expect(guest.getByRole('banner').getByText(INVITEE.name)).toBeVisible();
      // An engineer gets no admin pages.
      await expect(guest.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'People' })).toHaveCount(0);
    } finally {
      await context.close();
    }

    // The admin now sees the account, and the invitation is no longer pending.
    await gotoHydrated(page, '/app/people');
    await expect(page.getByRole('table', { name: 'Accounts' }).getByRole('cell', { name: INVITEE.name })).toBeVisible();
    await expect(page.getByRole('table', { name: 'Pending invitations' })).toHaveCount(0);
  });

  test('5. an admin creates an API token for CI; its secret is shown once', async () => {
    const page = admin;
    await gotoHydrated(page, '/app/tokens');
    const form = page.getByRole('region', { name: 'New token', exact: true });
    await form.getByLabel('Name').fill(TOKEN_NAME);
    await form.locator('select[name="role"]').selectOption('engineer');
    await form.getByRole('button', { name: 'Create token' }).click();

    const secret = page.getByTestId('token-secret');
    await expect(secret).toHaveValue(/^shp_\S{16,}$/);
    tokenSecret = await secret.inputValue();

    const row = page.getByRole('row').filter({ has: page.getByRole('cell', { name: TOKEN_NAME, exact: true }) });
    await expect(row).toBeVisible();
    await expect(row).toContainText('Engineer');
    // The list shows a prefix, never the secret.
    await expect(page.getByRole('table')).not.toContainText(tokenSecret);
  });

  test('5b. production exists from the start; an admin adds staging for CI', async () => {
    const page = admin;
    await gotoHydrated(page, '/app/environments');
    // A fresh install deploys to production on weeknights at 21:00.
    await expect(page.locator('[data-environment="production"]')).toContainText('Mon, Tue, Wed, Thu, Fri at 21:00');
    await expect(page.getByText('A deploy naming an environment that does not exist is refused')).toBeVisible();
    const form = page.getByRole('form', { name: 'Add an environment' });
    await form.getByLabel('Name').fill('staging');
    await form.getByLabel('Kind').selectOption('staging');
    await form.getByRole('button', { name: 'Save' }).click();
    await expect(page.locator('[data-environment="staging"]')).toContainText('Staging');
  });

  test('6. CI records deploys through the API; customers see only what is theirs, inertly', async ({ request, baseURL }) => {
    await test.step('the API refuses a call without a token', async () => {
      const response = await request.post('/api/v1/deploys', {
        data: { environment: 'production', version: '0.0.0', status: 'succeeded', entries: [] },
      });
      expect(response.status()).toBe(401);
    });

    await test.step('a succeeded production deploy with three entries', async () => {
      const response = await postDeploy(request, {
        environment: 'production',
        version: VERSION,
        status: 'succeeded',
        entries: [FEATURE, INTERNAL, XSS],
        commits: [{ sha: 'a1b2c3d4e5f6a7b8', message: 'feat(exports): CSV export', author: 'Ada Admin' }],
      });
      expect(response.status(), await response.text()).toBe(201);
      const deploy = (await response.json()) as DeployJson;
      expect(deploy.url).toBe(`${baseURL}/app/deploys/${deploy.id}`);
      expect(deploy.entries).toHaveLength(3);
      const byTitle = (t: string) => need(deploy.entries.find((e) => e.title === t), `entry “${t}”`);
      deployId = deploy.id;
      entryIds = { feature: byTitle(FEATURE.title).id, internal: byTitle(INTERNAL.title).id, xss: byTitle(XSS.title).id };
      // Sanitised on write, before any page shows it.
      expect(byTitle(XSS.title).body_html).not.toMatch(/<script|onerror|javascript:/i);
    });

    let laterId: number | undefined;
    await test.step('deploys customers must not see yet: staging, and production still in progress', async () => {
      const staging = await postDeploy(request, {
        environment: 'staging',
        version: STAGING_VERSION,
        status: 'succeeded',
        entries: [{ title: 'Dark mode (staging preview)', kind: 'feature' }],
      });
      expect(staging.status(), await staging.text()).toBe(201);
      const later = await postDeploy(request, {
        environment: 'production',
        version: LATER_VERSION,
        status: 'started',
        entries: [{ title: 'Faster timeline loading', kind: 'improvement' }],
      });
      expect(later.status(), await later.text()).toBe(201);
      laterId = ((await later.json()) as DeployJson).id;
    });

    const id = need(deployId, 'the deploy id');
    const ids = need(entryIds, 'the entry ids');
    const page = admin;

    await test.step('the deploy is in the timeline and its page lists every entry', async () => {
      await gotoHydrated(page, '/app');
      const link = page.getByRole('link', { name: VERSION, exact: true });
      await expect(link).toHaveAttribute('href', `/app/deploys/${id}`);
      await link.click();
      await expect(page).toHaveURL(new RegExp(`/app/deploys/${id}$`));
      await expect(page.getByRole('heading', { name: 'Changelog (3)' })).toBeVisible();
      for (const title of [FEATURE.title, INTERNAL.title, XSS.title]) {
        await expect(page.getByRole('heading', { name: title, exact: true, level: 3 })).toBeVisible();
      }
      // Rendered in the browser (client-side navigation) ...
      await expectHarmless(page, page.locator(`li[data-entry-id="${ids.xss}"] .prose`));
      // ... and rendered by the server, then hydrated.
      await gotoHydrated(page, `/app/deploys/${id}`);
      await expectHarmless(page, page.locator(`li[data-entry-id="${ids.xss}"] .prose`));
    });

    await test.step('/changes shows the public entries only, harmlessly', async () => {
      await page.goto('/changes');
      await expect(page.getByRole('heading', { name: 'Every change', level: 1 })).toBeVisible();
      await expect(page.getByRole('heading', { name: FEATURE.title, exact: true })).toBeVisible();
      await expect(page.getByRole('heading', { name: XSS.title, exact: true })).toBeVisible();
      await expect(page.getByText(INTERNAL.title)).toHaveCount(0);
      await expect(page.getByText('Dark mode (staging preview)')).toHaveCount(0);
      await expect(page.getByText('Faster timeline loading')).toHaveCount(0);
      await expectHarmless(page, page.locator(`#change-${ids.xss} .prose`));

      await page.goto(`/changes/${ids.xss}`);
      await expect(page.getByRole('heading', { name: XSS.title, exact: true })).toBeVisible();
      await expectHarmless(page, page.locator(`#change-${ids.xss} .prose`));

      // An internal entry has no public permalink either.
      const internal = await page.goto(`/changes/${ids.internal}`);
      expect(internal?.status()).toBe(404);
    });

    await test.step('once CI marks the later deploy succeeded, its entry goes public', async () => {
      const patched = await request.patch(`/api/v1/deploys/${need(laterId, 'the later deploy id')}`, {
        headers: { Authorization: `Bearer ${need(tokenSecret, 'the API token')}` },
        data: { status: 'succeeded' },
      });
      expect(patched.status(), await patched.text()).toBe(200);
      await page.goto('/changes');
      await expect(page.getByRole('heading', { name: 'Faster timeline loading', exact: true })).toBeVisible();
    });
  });

  test('7. an engineer edits an entry by hand, with a live Markdown preview', async () => {
    const page = admin;
    const id = need(deployId, 'the deploy id');
    const ids = need(entryIds, 'the entry ids');
    await gotoHydrated(page, `/app/deploys/${id}`);

    // "Add entry" opens an empty editor whose preview follows the typing; both
    // are on:click / on:input handlers, so this fails if the page did not hydrate.
    const newEntry = page.locator('.new-entry');
    await clickUntil(page.getByTestId('add-entry'), newEntry);
    await newEntry.getByLabel('Details (Markdown)').fill('_live_ preview');
    await expect(newEntry.getByTestId('preview').locator('em')).toHaveText('live');
    await newEntry.getByRole('button', { name: 'Cancel' }).click();
    await expect(newEntry).toHaveCount(0);

    // Edit the feature entry: new title, new body, preview rendered as you type.
    const entry = page.locator(`li[data-entry-id="${ids.feature}"]`);
    const title = entry.getByLabel('Title', { exact: true });
    await clickUntil(entry.getByRole('button', { name: 'Edit' }), title);
    await expect(title).toHaveValue(FEATURE.title);
    await title.fill(EDITED_TITLE);
    await entry.getByLabel('Details (Markdown)').fill('**bold** text');
    const preview = entry.getByTestId('preview');
    await expect(preview.locator('strong')).toHaveText('bold');
    await expect(preview).toContainText('bold text');
    await entry.getByRole('button', { name: 'Save entry' }).click();

    // Saved: the editor closes and the page shows the new text.
    await expect(title).toHaveCount(0);
    await expect(page.getByRole('heading', { name: EDITED_TITLE, exact: true, level: 3 })).toBeVisible();
    await expect(entry.locator('.prose strong')).toHaveText('bold');
    await expect(page.getByRole('heading', { name: FEATURE.title, exact: true })).toHaveCount(0);

    // Customers see the edit too.
    await page.goto('/changes');
    await expect(page.getByRole('heading', { name: EDITED_TITLE, exact: true })).toBeVisible();
    await expect(page.locator(`#change-${ids.feature} .prose strong`)).toHaveText('bold');
    await expect(page.getByRole('heading', { name: FEATURE.title, exact: true })).toHaveCount(0);
  });

  test('8. /changes works without JavaScript, and ships none', async ({ browser, baseURL, request }) => {
    const ids = need(entryIds, 'the entry ids');
    for (const path of ['/changes', `/changes/${ids.feature}`]) {
      const response = await request.get(path);
      expect(response.status()).toBe(200);
      expect(await response.text(), `${path} has no <script>`).not.toMatch(/<script/i);
    }

    const context = await browser.newContext({ baseURL, javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      const response = await page.goto('/changes');
      expect(response?.status()).toBe(200);
      await expect(page.getByRole('heading', { name: 'Every change', level: 1 })).toBeVisible();
      await expect(page.getByRole('heading', { name: EDITED_TITLE, exact: true })).toBeVisible();
      await expect(page.getByRole('heading', { name: XSS.title, exact: true })).toBeVisible();
      await expect(page.locator('script')).toHaveCount(0);

      // The filter is a plain GET form.
      const filters = page.getByRole('search', { name: 'Filter changes' });
      await filters.locator('select[name="kind"]').selectOption('feature');
      await filters.getByRole('button', { name: 'Filter' }).click();
      await expect(page).toHaveURL(/\/changes\?(.*&)?kind=feature(&|$)/);
      await expect(filters.locator('select[name="kind"]')).toHaveValue('feature');

      await expect(page.getByRole('heading', { name: EDITED_TITLE, exact: true })).toBeVisible();
      await expect(page.getByRole('heading', { name: XSS.title, exact: true })).toHaveCount(0);
      await expect(page.getByRole('heading', { name: 'Faster timeline loading', exact: true })).toHaveCount(0);
      const kinds = await page.locator('article.change .badge[class*="kind-"]').allTextContents();
      expect(kinds.length).toBeGreaterThan(0);
      expect(new Set(kinds.map((k) => k.trim()))).toEqual(new Set(['New']));
    } finally {
      await context.close();
    }
  });

  test('9. public pages and sign-in pass axe (WCAG 2.1 A and AA)', async ({ browser, baseURL }) => {
    const ids = need(entryIds, 'the entry ids');
    // Signed out, as customers and people signing in are.
    const context = await browser.newContext({ baseURL });
    await context.addInitScript(hydrationProbe);
    try {
      const page = await context.newPage();
      for (const path of ['/changes', `/changes/${ids.feature}`, '/login']) {
        if (path === '/login') await gotoHydrated(page, path);
        else await page.goto(path);
        const results = await new AxeBuilder({ page })
          .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
          .analyze();
        const report = results.violations
          .map((v) => [
            `${v.id} (${v.impact ?? 'n/a'}): ${v.help} — ${v.helpUrl}`,
            ...v.nodes.map((n) => `    ${n.target.join(' ')}: ${(n.failureSummary ?? '').replace(/\s+/g, ' ')}`),
          ].join('\n'))
          .join('\n');
        if (report) console.log(`axe violations on ${path}:\n${report}`);
        // Soft: every page is checked and reported before the test fails.
        expect.soft(results.violations.map((v) => v.id), `axe violations on ${path}:\n${report}`).toEqual([]);
      }
    } finally {
      await context.close();
    }
  });

  test('10. the "Public notes" link in the app opens the public page', async () => {
    // The public site is not a route of the hydrated app: the router must let
    // the browser load it rather than render its own "not found".
    const page = admin;
    await gotoHydrated(page, '/app');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Public notes' }).click();
    await expect(page).toHaveURL(/127\.0\.0\.1:\d+\/$/);
    await expect(page.getByRole('heading', { name: 'Release notes', level: 1 })).toBeVisible();
  });
});
