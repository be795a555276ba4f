import AxeBuilder from '@axe-core/playwright';
import {
  expect,
  test,
  type APIRequestContext,
  type Browser,
  type Locator,
  type Page,
} from '@playwright/test';
import {
  ADMIN,
  PASSWORD,
  gotoHydrated,
  hydrationProbe,
  need,
  waitForHydration,
  watch,
  type DeployJson,
  type EntryJson,
} from './support';

// Marketing releases and audiences, as a product manager uses them: CI records
// deploys, the PM drafts a release, writes its story, picks the shipped
// entries, publishes it, and shares private notes with a customer cohort.
//
// This file is named to sort after shiplog.spec.ts: Playwright runs the files
// of a project in alphabetical order, and both share one server and one
// database. It signs in with the admin that shiplog.spec.ts creates (or, run on
// its own against a fresh database, creates that admin itself). The helpers
// both files use live in support.ts.

const PM_TOKEN_NAME = 'Release tooling (e2e)';
const CI_TOKEN_NAME = 'Release CI (e2e)';

const VERSION_A = '2026.12.01-1';
const VERSION_B = '2026.12.02-1';
const STAGING_VERSION = '2026.12.03-rc1';
const VERSION_C = '2026.12.04-1';

// Every title holds "(e2e)": the picker's text filter finds exactly these, and
// nothing from shiplog.spec.ts.
const SAVED_SEARCHES = {
  title: 'Saved searches (e2e)',
  body: 'Keep a search and run it again with one click.',
  kind: 'feature',
  audience: 'everyone',
  component: 'search',
};
const BETA_INSIGHTS = {
  title: 'Usage insights preview (e2e)',
  body: 'Charts of your own usage, for the beta cohort first.',
  kind: 'feature',
  audience: 'cohort:beta',
  component: 'insights',
};
const EXPORT_FIX = {
  title: 'Large exports finish again (e2e)',
  body: 'Exports of more than ten thousand rows no longer time out.',
  kind: 'fix',
  audience: 'everyone',
  component: 'exports',
};
const DARK_MODE = {
  title: 'Dark mode (e2e)',
  body: 'A darker theme, easier on the eyes at night.',
  kind: 'feature',
  audience: 'everyone',
  component: 'ui',
};
const SHORTCUTS = {
  title: 'Keyboard shortcuts (e2e)',
  body: 'Press `?` to see them all.',
  kind: 'improvement',
  audience: 'everyone',
  component: 'ui',
};
const E2E_TITLES = [SAVED_SEARCHES.title, BETA_INSIGHTS.title, EXPORT_FIX.title, DARK_MODE.title];

const RELEASE = { title: 'Spring launch (e2e)', slug: 'spring-launch-e2e' };
const EDITOR = `/app/releases/${RELEASE.slug}`;
const NARRATIVE = 'Spring brings **saved searches** and exports that finish.';
const NARRATIVE_MORE = `${NARRATIVE}\n\nThank you to everyone who sent feedback.`;
const NARRATIVE_OTHER = `${NARRATIVE_MORE}\n\nEdited in another tab.`;
const NARRATIVE_LOSING = `${NARRATIVE_MORE}\n\nThis edit started from an old revision.`;

const SECOND_RELEASE = { title: 'Summer update (e2e)', slug: 'summer-update-e2e' };

const ACCOUNT = { name: 'Acme (e2e)', slug: 'acme-e2e' };
const COHORT = { name: 'Beta testers', slug: 'beta' };

const ATOM_NS = 'http://www.w3.org/2005/Atom';

// State handed from test to test (the file runs in one worker, in order).
let admin: Page; // the admin's tab, signed in from the first test on
const dialogs: string[] = []; // every dialog in the admin's tab, as "type: message"
const pageErrors: string[] = []; // uncaught exceptions (a wasm panic shows up here)
// What the admin's tab does with a `beforeunload` dialog: leave (the default,
// so a stray guard never blocks a navigation) or stay on the page.
let onBeforeUnload: 'accept' | 'dismiss' = 'accept';
let ciToken: string | undefined; // engineer
let pmToken: string | undefined; // product manager
let accountLink: string | undefined; // Acme's members' private notes link

const beforeUnloads = () => dialogs.filter((d) => d.startsWith('beforeunload')).length;

/** Signs in as the admin; on a fresh database (this file run alone) sets the admin up first. */
async function signIn(page: Page) {
  await gotoHydrated(page, '/login');
  if (/\/setup$/.test(page.url())) {
    await page.getByLabel('Your name').fill(ADMIN.name);
    await page.getByLabel('Email', { exact: true }).fill(ADMIN.email);
    await page.getByLabel(/^Password/).fill(PASSWORD);
    await page.getByRole('button', { name: 'Create admin account' }).click();
  } else {
    await page.getByLabel('Email', { exact: true }).fill(ADMIN.email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }
  await expect(page).toHaveURL(/\/app$/);
  await expect(page.getByRole('banner').getByText(ADMIN.name)).toBeVisible();
}

/** Another browser with the admin signed in (a second tab of the same team). */
async function signedInContext(browser: Browser, baseURL: string | undefined, log: string[]) {
  const context = await browser.newContext({ baseURL });
  await context.addInitScript(hydrationProbe);
  const page = await context.newPage();
  watch(page, log, pageErrors, () => onBeforeUnload);
  await signIn(page);
  return { context, page };
}

async function postDeploy(request: APIRequestContext, data: object) {
  const response = await request.post('/api/v1/deploys', {
    headers: { Authorization: `Bearer ${need(ciToken, 'the CI token')}` },
    data,
  });
  expect(response.status(), await response.text()).toBe(201);
  return (await response.json()) as DeployJson;
}

/** The release editor's parts. */
function editor(page: Page) {
  const story = page.getByRole('form', { name: 'The story' });
  return {
    story,
    narrative: story.getByLabel('Narrative (Markdown)'),
    preview: story.getByTestId('preview'),
    saveState: story.getByTestId('save-state'),
    save: story.getByRole('button', { name: 'Save', exact: true }),
    status: page.getByTestId('release-status'),
    readiness: page.getByTestId('readiness'),
    linked: page.getByRole('region', { name: /^Entries \(\d+\)$/ }),
    picker: page.getByRole('region', { name: 'Add entries', exact: true }),
    publishNow: page.getByRole('button', { name: 'Publish now', exact: true }),
  };
}

/** Filters the entry picker by text (the field commits on change: Enter or blur). */
async function pickerText(picker: Locator, text: string) {
  const field = picker.getByLabel('Text', { exact: true });
  await field.fill(text);
  await field.press('Enter');
  await field.blur();
}

/** The picker's entry titles, trimmed and sorted. */
async function pickerTitles(picker: Locator) {
  return (await picker.locator('ul.picker li label').allTextContents()).map((t) => t.trim()).sort();
}

async function draftRelease(page: Page, title: string, slug: string) {
  await gotoHydrated(page, '/app/releases');
  const form = page.getByRole('region', { name: 'New release', exact: true });
  await form.getByLabel('Title', { exact: true }).fill(title);
  await form.getByRole('button', { name: 'Draft release' }).click();
  await expect(page).toHaveURL(new RegExp(`/app/releases/${slug}$`));
  // Start from a fresh load of the editor, hydrated, however the redirect happened.
  await gotoHydrated(page, `/app/releases/${slug}`);
  await expect(page.getByRole('heading', { level: 1 })).toContainText(title);
  await expect(editor(page).status).toHaveText('Draft');
}

type AtomSummary = {
  error: string | null;
  namespace: string | null;
  root: string;
  title: string;
  entries: { title: string; link: string; content: string }[];
};

/** Parses an Atom document with the browser's XML parser. */
async function parseAtom(page: Page, xml: string): Promise<AtomSummary> {
  return page.evaluate(
    ([text, ns]) => {
      const doc = new DOMParser().parseFromString(text, 'application/xml');
      const failure = doc.getElementsByTagName('parsererror')[0];
      const root = doc.documentElement;
      const child = (el: Element, name: string) => el.getElementsByTagNameNS(ns, name)[0];
      return {
        error: failure ? failure.textContent : null,
        namespace: root.namespaceURI,
        root: root.localName,
        title: child(root, 'title')?.textContent ?? '',
        entries: Array.from(root.getElementsByTagNameNS(ns, 'entry')).map((e) => ({
          title: child(e, 'title')?.textContent ?? '',
          link: child(e, 'link')?.getAttribute('href') ?? '',
          content: child(e, 'content')?.textContent ?? '',
        })),
      };
    },
    [xml, ATOM_NS] as const,
  );
}

type JsonFeed = {
  version: string;
  title: string;
  feed_url: string;
  items: { id: string; url: string; title: string; content_html: string }[];
};

async function axeViolations(page: Page, path: string) {
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
  return { ids: results.violations.map((v) => v.id), report };
}

type ReleaseDetailJson = { slug: string; status: string; revision: number; entries: { entry: EntryJson }[] };
type PublicReleaseJson = { slug: string; title: string; entries: { title: string }[] };

test.describe('Shiplog releases and audiences', () => {
  test.describe.configure({ mode: 'serial' });

  // One tab for the admin across tests, so the session cookie carries over.
  test.beforeAll(async ({ browser }, testInfo) => {
    // Not in UTC, so local times in forms are told apart from UTC ones.
    const context = await browser.newContext({ baseURL: testInfo.project.use.baseURL, timezoneId: 'America/New_York' });
    await context.addInitScript(hydrationProbe);
    admin = await context.newPage();
    watch(admin, dialogs, pageErrors, () => onBeforeUnload);
  });

  test.afterAll(async () => {
    await admin?.context().close();
  });

  test.afterEach(() => {
    expect(pageErrors, 'uncaught errors in the page').toEqual([]);
    // Only the unsaved-changes guard may ask anything.
    const guard = (d: string) => d.startsWith('beforeunload') || d.startsWith('confirm: This release has unsaved changes');
    expect(dialogs.filter((d) => !guard(d)), 'dialogs in the admin tab').toEqual([]);
  });

  test('R1. the admin signs in and creates a PM token and an engineer token', async () => {
    const page = admin;
    await signIn(page);
    // Admins do the PMs' work: the app offers them releases and customers.
    const nav = page.getByRole('navigation', { name: 'Main' });
    await expect(nav.getByRole('link', { name: 'Releases' })).toBeVisible();
    await expect(nav.getByRole('link', { name: 'Not announced' })).toBeVisible();
    await expect(nav.getByRole('link', { name: 'Customers' })).toBeVisible();

    await gotoHydrated(page, '/app/tokens');
    const form = page.getByRole('region', { name: 'New token', exact: true });
    const secret = page.getByTestId('token-secret');

    await form.getByLabel('Name').fill(PM_TOKEN_NAME);
    await form.locator('select[name="role"]').selectOption('pm');
    await form.getByRole('button', { name: 'Create token' }).click();
    await expect(secret).toHaveValue(/^shp_\S{16,}$/);
    pmToken = await secret.inputValue();

    await form.getByLabel('Name').fill(CI_TOKEN_NAME);
    await form.locator('select[name="role"]').selectOption('engineer');
    await form.getByRole('button', { name: 'Create token' }).click();
    await expect(secret).not.toHaveValue(pmToken);
    await expect(secret).toHaveValue(/^shp_\S{16,}$/);
    ciToken = await secret.inputValue();

    for (const [name, role] of [[PM_TOKEN_NAME, 'Product manager'], [CI_TOKEN_NAME, 'Engineer']]) {
      const row = page.getByRole('row').filter({ has: page.getByRole('cell', { name, exact: true }) });
      await expect(row).toContainText(role);
    }
  });

  test('R2. CI records production and staging deploys; only PM tokens see drafts', async ({ request }) => {
    const a = await postDeploy(request, {
      environment: 'production',
      version: VERSION_A,
      status: 'succeeded',
      entries: [SAVED_SEARCHES, BETA_INSIGHTS],
    });
    expect(a.entries.map((e) => e.audience)).toEqual(['everyone', 'cohort:beta']);
    await postDeploy(request, {
      environment: 'production',
      version: VERSION_B,
      status: 'succeeded',
      entries: [EXPORT_FIX],
    });
    await postDeploy(request, {
      environment: 'staging',
      version: STAGING_VERSION,
      status: 'succeeded',
      entries: [DARK_MODE],
    });

    // The public page lists shipped entries for everyone; not the cohort's, not staging's.
    const changes = await (await request.get('/changes')).text();
    expect(changes).toContain(SAVED_SEARCHES.title);
    expect(changes).toContain(EXPORT_FIX.title);
    expect(changes).not.toContain(BETA_INSIGHTS.title);
    expect(changes).not.toContain(DARK_MODE.title);

    // Engineers record deploys; releases are the PMs' (and admins') work.
    const refused = await request.post('/api/v1/releases', {
      headers: { Authorization: `Bearer ${need(ciToken, 'the CI token')}` },
      data: { title: 'Not allowed (e2e)' },
    });
    expect(refused.status(), await refused.text()).toBe(403);
  });

  test('R3. a PM drafts a release and writes its story with a live preview', async () => {
    const page = admin;
    await draftRelease(page, RELEASE.title, RELEASE.slug);
    const ed = editor(page);

    await expect(ed.saveState).toHaveText('All changes saved');
    await ed.narrative.fill(NARRATIVE);
    await expect(ed.preview.locator('strong')).toHaveText('saved searches');
    await expect(ed.preview).toContainText('exports that finish');
    await expect(ed.saveState).toHaveText('Unsaved changes');

    await ed.save.click();
    await expect(ed.saveState).toHaveText('All changes saved');
    await expect(ed.story.getByRole('alert')).toHaveCount(0);

    // Stored: a fresh load shows it.
    await gotoHydrated(page, EDITOR);
    await expect(ed.narrative).toHaveValue(NARRATIVE);
    await expect(ed.preview.locator('strong')).toHaveText('saved searches');

    // And the list of releases has it, as a draft.
    await gotoHydrated(page, '/app/releases');
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: RELEASE.title, exact: true }) });
    await expect(row).toContainText('Draft');
    await expect(row.getByRole('link', { name: RELEASE.title, exact: true })).toHaveAttribute('href', EDITOR);
  });

  test('R4. leaving with unsaved changes asks first; once saved, it does not', async () => {
    const page = admin;
    await gotoHydrated(page, EDITOR);
    const ed = editor(page);
    await expect(ed.narrative).toHaveValue(NARRATIVE);

    // A real click: Chromium asks before unload only on a page the user interacted with.
    await ed.narrative.click();
    await ed.narrative.fill(NARRATIVE_MORE);
    await expect(ed.saveState).toHaveText('Unsaved changes');

    onBeforeUnload = 'dismiss'; // "Stay on page"
    try {
      const asked = beforeUnloads();
      // Navigations started by the page itself: evaluate() returns once the dialog is handled.
      await page.evaluate(() => { window.location.reload(); });
      await expect.poll(beforeUnloads, { message: 'a beforeunload dialog on reload' }).toBe(asked + 1);
      await expect(page).toHaveURL(new RegExp(`${EDITOR}$`));
      await expect(ed.narrative).toHaveValue(NARRATIVE_MORE);
      await expect(ed.saveState).toHaveText('Unsaved changes');

      await ed.narrative.click();
      await page.evaluate(() => { window.location.assign('/app'); });
      await expect.poll(beforeUnloads, { message: 'a beforeunload dialog on leaving' }).toBe(asked + 2);
      await expect(page).toHaveURL(new RegExp(`${EDITOR}$`));
      await expect(ed.narrative).toHaveValue(NARRATIVE_MORE);

      // The app's own links ask too: the router would leave without unloading the page.
      const confirms = () => dialogs.filter((d) => d.startsWith('confirm')).length;
      const confirmed = confirms();
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Deploy log' }).click();
      await expect.poll(confirms, { message: 'a confirmation before following an app link' }).toBe(confirmed + 1);
      await expect(page).toHaveURL(new RegExp(`${EDITOR}$`));
      await expect(ed.narrative).toHaveValue(NARRATIVE_MORE);
    } finally {
      onBeforeUnload = 'accept';
    }

    await ed.save.click();
    await expect(ed.saveState).toHaveText('All changes saved');

    // Saved: reloading asks nothing, and the text is there.
    const asked = beforeUnloads();
    await page.reload();
    await waitForHydration(page);
    await expect(ed.narrative).toHaveValue(NARRATIVE_MORE);
    expect(beforeUnloads()).toBe(asked);
  });

  test('R5. the entry picker links shipped and unshipped entries; readiness names what is missing', async ({ request }) => {
    const page = admin;
    await gotoHydrated(page, EDITOR);
    const ed = editor(page);
    await expect(ed.linked).toContainText('No entries yet');

    await pickerText(ed.picker, '(e2e)');
    await expect.poll(() => pickerTitles(ed.picker)).toEqual([...E2E_TITLES].sort());
    for (const title of E2E_TITLES) {
      await ed.picker.getByRole('checkbox', { name: title, exact: true }).check();
    }
    await ed.picker.getByRole('button', { name: 'Add 4 selected' }).click();

    await expect(ed.linked).toHaveAccessibleName('Entries (4)');
    for (const title of E2E_TITLES) {
      await expect(ed.linked.getByRole('cell', { name: title, exact: true })).toBeVisible();
    }
    await expect(ed.readiness).toContainText('Not ready');
    await expect(ed.readiness).toContainText('1 of 4');
    const row = (title: string) => ed.linked.getByRole('row').filter({ has: page.getByRole('cell', { name: title, exact: true }) });
    await expect(row(DARK_MODE.title)).toContainText(`Not shipped: only on staging (${STAGING_VERSION})`);
    for (const title of [SAVED_SEARCHES.title, BETA_INSIGHTS.title, EXPORT_FIX.title]) {
      await expect(row(title)).toContainText('Shipped to production');
    }
    await expect(row(BETA_INSIGHTS.title)).toContainText('Cohort beta');

    // Linked entries leave the picker.
    await pickerText(ed.picker, '(e2e)');
    await expect(ed.picker).toContainText('No unannounced entries match.');

    // The API shows PMs the same draft; engineers may not read drafts.
    const draft = await request.get(`/api/v1/releases/${RELEASE.slug}/draft`, {
      headers: { Authorization: `Bearer ${need(pmToken, 'the PM token')}` },
    });
    expect(draft.status(), await draft.text()).toBe(200);
    const detail = (await draft.json()) as ReleaseDetailJson;
    expect(detail.status).toBe('draft');
    expect(detail.entries.map((e) => e.entry.title).sort()).toEqual([...E2E_TITLES].sort());
    const engineer = await request.get(`/api/v1/releases/${RELEASE.slug}/draft`, {
      headers: { Authorization: `Bearer ${need(ciToken, 'the CI token')}` },
    });
    expect(engineer.status()).toBe(403);
  });

  test('R6. publishing waits for every entry; scheduled releases stay hidden; published ones are public', async ({ page: reader, request }) => {
    const page = admin;
    await gotoHydrated(page, EDITOR);
    const ed = editor(page);
    await expect(ed.readiness).toContainText('Not ready');

    await test.step('"Publish now" is refused while an entry is only on staging', async () => {
      await ed.publishNow.click();
      const error = page.getByRole('alert').filter({ hasText: 'Not every change has shipped' });
      await expect(error).toBeVisible();
      await expect(error).toContainText(DARK_MODE.title);
      await expect(ed.status).toHaveText('Draft');
    });

    await test.step('without the staging entry the release is ready', async () => {
      const row = ed.linked.getByRole('row').filter({ has: page.getByRole('cell', { name: DARK_MODE.title, exact: true }) });
      await row.getByRole('button', { name: 'Remove' }).click();
      await expect(ed.linked).toHaveAccessibleName('Entries (3)');
      await expect(ed.linked.getByRole('cell', { name: DARK_MODE.title, exact: true })).toHaveCount(0);
      await expect(ed.readiness).toContainText(/^Ready/);
    });

    await test.step('scheduled an hour ahead: not public yet', async () => {
      // datetime-local takes the PM's own time (this tab is in New York); the
      // release is scheduled for that instant, shown in UTC.
      const { local, utc } = await page.evaluate(() => {
        const d = new Date(Date.now() + 60 * 60 * 1000);
        const p = (n: number) => String(n).padStart(2, '0');
        return {
          local: `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`,
          utc: d.toISOString().slice(0, 16),
        };
      });
      expect(local).not.toEqual(utc);
      await page.getByLabel('Or publish at (your time)').fill(local);
      await page.getByRole('button', { name: 'Schedule', exact: true }).click();
      await expect(ed.status).toHaveText(`Scheduled for ${utc.replace('T', ' ')} UTC`);

      await reader.goto('/');
      await expect(reader.getByRole('heading', { name: 'Release notes', level: 1 })).toBeVisible();
      await expect(reader.getByText(RELEASE.title)).toHaveCount(0);
      expect((await request.get(`/releases/${RELEASE.slug}`)).status()).toBe(404);
      expect((await request.get(`/api/v1/releases/${RELEASE.slug}`)).status()).toBe(404);
    });

    await test.step('back to draft, then published now', async () => {
      await page.getByRole('button', { name: 'Back to draft' }).click();
      await expect(ed.status).toHaveText('Draft');
      await ed.publishNow.click();
      await expect(ed.status).toContainText('Published');
      await expect(ed.status.getByRole('link', { name: 'View on the public site' })).toHaveAttribute(
        'href',
        `/releases/${RELEASE.slug}`,
      );
      await expect(ed.publishNow).toHaveCount(0);
    });

    await test.step('the public home shows the story and the entries by kind, without the cohort\'s', async () => {
      await reader.goto('/');
      const article = reader.locator('article.release').filter({
        has: reader.getByRole('heading', { name: RELEASE.title, exact: true, level: 2 }),
      });
      await expect(article).toHaveCount(1);
      await expect(article.getByRole('link', { name: RELEASE.title, exact: true })).toHaveAttribute('href', `/releases/${RELEASE.slug}`);
      await expect(article.locator('.narrative strong')).toHaveText('saved searches');
      await expect(article.locator('.narrative')).toContainText('Thank you to everyone who sent feedback.');
      await expect(article.getByRole('heading', { level: 3 })).toHaveText(['New features', 'Fixes']);
      const group = (name: string) => article.locator('section.kind-group').filter({ has: reader.getByRole('heading', { name, level: 3 }) });
      await expect(group('New features').getByRole('heading', { name: SAVED_SEARCHES.title, exact: true, level: 4 })).toBeVisible();
      await expect(group('Fixes').getByRole('heading', { name: EXPORT_FIX.title, exact: true, level: 4 })).toBeVisible();
      await expect(reader.getByText(BETA_INSIGHTS.title)).toHaveCount(0);
      await expect(reader.getByText(DARK_MODE.title)).toHaveCount(0);
    });

    await test.step('its own page, and the public API, agree', async () => {
      const response = await reader.goto(`/releases/${RELEASE.slug}`);
      expect(response?.status()).toBe(200);
      await expect(reader.getByRole('heading', { name: RELEASE.title, exact: true, level: 2 })).toBeVisible();
      await expect(reader.getByRole('heading', { name: SAVED_SEARCHES.title, exact: true, level: 4 })).toBeVisible();
      await expect(reader.getByRole('heading', { name: EXPORT_FIX.title, exact: true, level: 4 })).toBeVisible();
      await expect(reader.getByText(BETA_INSIGHTS.title)).toHaveCount(0);
      await expect(reader.getByRole('note')).toHaveCount(0); // no private-notes banner

      const api = await request.get(`/api/v1/releases/${RELEASE.slug}`);
      expect(api.status(), await api.text()).toBe(200);
      const json = (await api.json()) as PublicReleaseJson;
      expect(json.title).toBe(RELEASE.title);
      expect(json.entries.map((e) => e.title).sort()).toEqual([EXPORT_FIX.title, SAVED_SEARCHES.title].sort());
    });
  });

  test('R7. a save based on an old revision is refused, not silently applied', async ({ browser, baseURL }) => {
    const page = admin;
    await gotoHydrated(page, EDITOR);
    const mine = editor(page);
    await expect(mine.narrative).toHaveValue(NARRATIVE_MORE);

    const otherDialogs: string[] = [];
    const other = await signedInContext(browser, baseURL, otherDialogs);
    try {
      await gotoHydrated(other.page, EDITOR);
      const theirs = editor(other.page);
      await theirs.narrative.fill(NARRATIVE_OTHER);
      await theirs.save.click();
      await expect(theirs.saveState).toHaveText('All changes saved');
      await expect(theirs.story.getByRole('alert')).toHaveCount(0);
    } finally {
      await other.context.close();
    }

    await mine.narrative.fill(NARRATIVE_LOSING);
    await mine.save.click();
    await expect(mine.story.getByRole('alert')).toContainText('Someone else changed this release');
    // The refused text stays, unsaved.
    await expect(mine.narrative).toHaveValue(NARRATIVE_LOSING);
    await expect(mine.saveState).toHaveText('Unsaved changes');

    // Reloading (and leaving the unsaved text) shows the other tab's version.
    await page.reload();
    await waitForHydration(page);
    await expect(mine.narrative).toHaveValue(NARRATIVE_OTHER);
    await expect(mine.saveState).toHaveText('All changes saved');
  });

  test('R8. a cohort entry reaches only its accounts, through their private link (no JavaScript needed)', async ({ browser, baseURL }) => {
    const page = admin;
    await gotoHydrated(page, '/app/customers');
    await expect(page.getByRole('heading', { name: 'Customers', level: 1 })).toBeVisible();

    const newAccount = page.getByRole('region', { name: 'New account', exact: true });
    await newAccount.getByLabel('Name', { exact: true }).fill(ACCOUNT.name);
    await newAccount.getByLabel('Slug', { exact: true }).fill(ACCOUNT.slug);
    await newAccount.getByRole('button', { name: 'Create account' }).click();
    const accounts = page.getByRole('region', { name: 'Accounts', exact: true });
    const row = accounts.getByRole('row').filter({ hasText: ACCOUNT.slug });
    await expect(row).toContainText(ACCOUNT.name);

    const cohorts = page.getByRole('region', { name: 'Cohorts', exact: true });
    const beta = cohorts.locator('.panel').filter({
      has: page.getByRole('heading', { name: new RegExp(`cohort:${COHORT.slug}$`), level: 3 }),
    });
    if ((await beta.count()) === 0) {
      const newCohort = page.getByRole('region', { name: 'New cohort', exact: true });
      await newCohort.getByLabel('Name', { exact: true }).fill(COHORT.name);
      await newCohort.getByLabel('Slug', { exact: true }).fill(COHORT.slug);
      await newCohort.getByRole('button', { name: 'Create cohort' }).click();
    }
    await expect(beta).toBeVisible();
    await beta.getByRole('checkbox', { name: ACCOUNT.slug, exact: true }).check();
    await beta.getByRole('button', { name: 'Save members' }).click();
    await expect(row.getByRole('cell').nth(1)).toHaveText(COHORT.slug);

    const membersLink = row.getByRole('cell').nth(2);
    await membersLink.getByRole('button', { name: 'Create link' }).click();
    const linkField = page.getByTestId('account-link');
    await expect(linkField).toHaveValue(/\/a\/[^/\s]+$/);
    accountLink = await linkField.inputValue();
    expect(accountLink.startsWith(`${baseURL}/a/`)).toBe(true);
    await expect(membersLink.getByRole('button', { name: 'New link' })).toBeVisible();
    const base = new URL(accountLink).pathname; // /a/<secret>

    const context = await browser.newContext({ baseURL, javaScriptEnabled: false });
    try {
      const customer = await context.newPage();

      const response = await customer.goto(`${accountLink}/releases/${RELEASE.slug}`);
      expect(response?.status()).toBe(200);
      expect(response?.headers()['cache-control']).toBe('private, no-store');
      await expect(customer.getByRole('note')).toContainText(`Private release notes for ${ACCOUNT.name}`);
      await expect(customer.locator('meta[name="robots"]')).toHaveAttribute('content', /noindex/);
      await expect(customer.getByRole('heading', { name: RELEASE.title, exact: true, level: 2 })).toBeVisible();
      await expect(customer.getByRole('heading', { name: BETA_INSIGHTS.title, exact: true, level: 4 })).toBeVisible();
      await expect(customer.getByRole('heading', { name: SAVED_SEARCHES.title, exact: true, level: 4 })).toBeVisible();
      // Links stay inside the private notes.
      await expect(customer.getByRole('link', { name: '← All releases' })).toHaveAttribute('href', `${base}/`);

      await customer.goto(accountLink);
      await expect(customer.getByRole('note')).toContainText(`Private release notes for ${ACCOUNT.name}`);
      await expect(customer.getByRole('heading', { name: BETA_INSIGHTS.title, exact: true, level: 4 })).toBeVisible();
      await expect(customer.locator('script')).toHaveCount(0);

      // The public page of the same release: no cohort entry, no banner.
      await customer.goto(`/releases/${RELEASE.slug}`);
      await expect(customer.getByRole('heading', { name: SAVED_SEARCHES.title, exact: true, level: 4 })).toBeVisible();
      await expect(customer.getByText(BETA_INSIGHTS.title)).toHaveCount(0);
      await expect(customer.getByRole('note')).toHaveCount(0);

      // A made-up link is simply not found.
      const bogus = await customer.goto(`/a/not-a-real-link/releases/${RELEASE.slug}`);
      expect(bogus?.status()).toBe(404);
    } finally {
      await context.close();
    }
  });

  test('R9. the Atom and JSON feeds parse, public and private', async ({ page, request, baseURL }) => {
    const link = need(accountLink, 'the private notes link');

    await test.step('releases.atom', async () => {
      const response = await request.get('/feeds/releases.atom');
      expect(response.status()).toBe(200);
      expect(response.headers()['content-type']).toMatch(/^application\/atom\+xml/);
      const feed = await parseAtom(page, await response.text());
      expect(feed.error).toBeNull();
      expect(feed.namespace).toBe(ATOM_NS);
      expect(feed.root).toBe('feed');
      const entry = feed.entries.find((e) => e.title === RELEASE.title);
      expect(entry, 'the release in releases.atom').toBeDefined();
      expect(entry?.link).toBe(`${baseURL}/releases/${RELEASE.slug}`);
      expect(entry?.content).toContain(SAVED_SEARCHES.title);
      expect(entry?.content).not.toContain(BETA_INSIGHTS.title);
    });

    await test.step('changes.atom', async () => {
      const response = await request.get('/feeds/changes.atom');
      expect(response.status()).toBe(200);
      const feed = await parseAtom(page, await response.text());
      expect(feed.error).toBeNull();
      expect(feed.namespace).toBe(ATOM_NS);
      const titles = feed.entries.map((e) => e.title);
      expect(titles.some((t) => t.endsWith(SAVED_SEARCHES.title)), titles.join(' | ')).toBe(true);
      expect(titles.some((t) => t.endsWith(EXPORT_FIX.title)), titles.join(' | ')).toBe(true);
      expect(titles.some((t) => t.includes(BETA_INSIGHTS.title))).toBe(false);
      expect(titles.some((t) => t.includes(DARK_MODE.title))).toBe(false);
    });

    await test.step('the private releases.atom announces the cohort entry too', async () => {
      const response = await request.get(`${link}/feeds/releases.atom`);
      expect(response.status()).toBe(200);
      const feed = await parseAtom(page, await response.text());
      expect(feed.error).toBeNull();
      const entry = feed.entries.find((e) => e.title === RELEASE.title);
      expect(entry?.link).toBe(`${link}/releases/${RELEASE.slug}`);
      expect(entry?.content).toContain(BETA_INSIGHTS.title);
    });

    await test.step('releases.json', async () => {
      const response = await request.get('/feeds/releases.json');
      expect(response.status()).toBe(200);
      expect(response.headers()['content-type']).toMatch(/^application\/feed\+json/);
      const feed = (await response.json()) as JsonFeed;
      expect(feed.version).toBe('https://jsonfeed.org/version/1.1');
      expect(feed.items[0]?.title).toBe(RELEASE.title);
      expect(feed.items[0]?.url).toBe(`${baseURL}/releases/${RELEASE.slug}`);
    });

    await test.step('changes.json: the cohort entry only in the private feed', async () => {
      const pub = (await (await request.get('/feeds/changes.json')).json()) as JsonFeed;
      expect(pub.version).toBe('https://jsonfeed.org/version/1.1');
      expect(pub.items.some((i) => i.title.endsWith(SAVED_SEARCHES.title))).toBe(true);
      expect(pub.items.some((i) => i.title.includes(BETA_INSIGHTS.title))).toBe(false);

      const response = await request.get(`${link}/feeds/changes.json`);
      expect(response.status()).toBe(200);
      expect(response.headers()['cache-control']).toBe('private, no-store');
      const priv = (await response.json()) as JsonFeed;
      expect(priv.feed_url).toBe(`${link}/feeds/changes.json`);
      const item = priv.items.find((i) => i.title.endsWith(BETA_INSIGHTS.title));
      expect(item, 'the cohort entry in the private changes.json').toBeDefined();
      expect(item?.url.startsWith(`${link}/changes/`)).toBe(true);
    });
  });

  test('R10. "Shipped but not announced" shows the announced share', async () => {
    const page = admin;
    await gotoHydrated(page, '/app');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Not announced' }).click();
    await expect(page).toHaveURL(/\/app\/unannounced$/);
    await expect(page.getByRole('heading', { name: 'Shipped but not announced', level: 1 })).toBeVisible();
    const share = page.getByTestId('announced-share');
    await expect(share).toContainText(/\d+%/);
    const percent = Number(/(\d+)%/.exec((await share.textContent()) ?? '')?.[1]);
    expect(percent).toBeGreaterThan(0);
    expect(percent).toBeLessThanOrEqual(100);
    // The published release's entries are announced; the staging one has not shipped.
    for (const title of E2E_TITLES) {
      await expect(page.getByRole('cell', { name: title, exact: true })).toHaveCount(0);
    }
  });

  test('R11. the release pages pass axe (WCAG 2.1 A and AA)', async ({ browser, baseURL }) => {
    const link = need(accountLink, 'the private notes link');
    const context = await browser.newContext({ baseURL });
    try {
      const page = await context.newPage();
      for (const path of ['/', `/releases/${RELEASE.slug}`, `${link}/releases/${RELEASE.slug}`]) {
        const response = await page.goto(path);
        expect(response?.status(), path).toBe(200);
        const { ids, report } = await axeViolations(page, path);
        // Soft: every page is checked and reported before the test fails.
        expect.soft(ids, `axe violations on ${path}:\n${report}`).toEqual([]);
      }
    } finally {
      await context.close();
    }
  });

  test('R12. a PM saves the story and publishes straight away, without reloading', async ({ request }) => {
    // Saving bumps the release's revision; publishing right after must use the new one.
    await postDeploy(request, {
      environment: 'production',
      version: VERSION_C,
      status: 'succeeded',
      entries: [SHORTCUTS],
    });
    const page = admin;
    await draftRelease(page, SECOND_RELEASE.title, SECOND_RELEASE.slug);
    const ed = editor(page);

    await pickerText(ed.picker, SHORTCUTS.title);
    await expect.poll(() => pickerTitles(ed.picker)).toEqual([SHORTCUTS.title]);
    await ed.picker.getByRole('checkbox', { name: SHORTCUTS.title, exact: true }).check();
    await ed.picker.getByRole('button', { name: 'Add 1 selected' }).click();
    await expect(ed.linked).toHaveAccessibleName('Entries (1)');
    await expect(ed.readiness).toContainText(/^Ready/);

    await ed.narrative.fill('Work faster with the _keyboard_.');
    await expect(ed.preview.locator('em')).toHaveText('keyboard');
    await ed.save.click();
    await expect(ed.saveState).toHaveText('All changes saved');

    await ed.publishNow.click();
    const alerts = page.getByRole('alert');
    await expect(alerts.or(ed.status.filter({ hasText: 'Published' }))).toBeVisible();
    // Shows the error's text if publishing was refused (e.g. a stale revision).
    expect(await alerts.allTextContents(), 'errors after "Publish now"').toEqual([]);
    await expect(ed.status).toContainText('Published');

    const response = await request.get(`/releases/${SECOND_RELEASE.slug}`);
    expect(response.status()).toBe(200);
    const html = await response.text();
    expect(html).toContain('<em>keyboard</em>');
    expect(html).toContain(SHORTCUTS.title);
  });

  test('R13. markup in a release title or a deploy version never runs, and the CSP lets only the app run', async ({ request }) => {
    // Titles reached the server-rendered <head> unescaped whenever the page's
    // data was ready in time, so each page is loaded several times.
    const titles = [
      '</title><script>window.__pwned = 1</script> (e2e)',
      '</title><img src=x onerror="window.__pwned = 2"> (e2e)',
    ];
    const slugs: string[] = [];
    for (const [i, title] of titles.entries()) {
      const res = await request.post('/api/v1/releases', {
        headers: { Authorization: `Bearer ${need(pmToken, 'the PM token')}` },
        data: { title, slug: `title-markup-${i}-e2e` },
      });
      expect(res.status(), await res.text()).toBe(201);
      slugs.push(`title-markup-${i}-e2e`);
    }
    const version = '</title><svg/onload=window.__pwned=3>';
    const deploy = await postDeploy(request, {
      environment: 'production',
      version,
      status: 'succeeded',
      entries: [{ title: '</title><script>window.__pwned = 4</script>', kind: 'fix' }],
    });
    const violations: string[] = [];
    const onConsole = (m: { text(): string }) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    };
    admin.on('console', onConsole);
    const pages: [string, string][] = [
      [`/app/releases/${slugs[0]}`, `${titles[0]} · Shiplog`],
      [`/app/releases/${slugs[1]}`, `${titles[1]} · Shiplog`],
      [`/app/deploys/${deploy.id}`, `${version} on production · Shiplog`],
    ];
    for (let round = 0; round < 4; round++) {
      for (const [path, title] of pages) {
        await gotoHydrated(admin, path);
        // The page shows the text as text, in the tab's title too (no entities).
        await expect(admin).toHaveTitle(title);
        expect(await admin.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
      }
    }
    admin.off('console', onConsole);
    expect(violations, 'the app hydrated under its Content Security Policy').toEqual([]);
  });
});
