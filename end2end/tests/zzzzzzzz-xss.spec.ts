import {
  expect,
  test,
  type APIRequestContext,
  type Browser,
  type BrowserContext,
  type Page,
} from '@playwright/test';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ADMIN, PASSWORD, gotoHydrated, hydrationProbe, need, waitForHydration, type DeployJson } from './support';
import { Findings, loadCorpus, pageReport, parseMail, watchContext, type Mail, type Payload } from './xss-support';

// Stored XSS, everywhere: every payload of end2end/xss/corpus.txt (OWASP's
// filter-evasion list, DOMPurify's and ammonia's bypass cases, Markdown
// vectors) goes into the text fields Shiplog stores, through the API and the
// app; then every public page, every team page and every email that shows
// them is opened in Chromium, each several times, by full loads and by the
// app's own navigation. Nothing may run: no dialog, no `__xss`, no Content
// Security Policy violation (an injection that reached the DOM as active
// content), no console error, no handler or script URL left in the markup,
// and titles show their text literally. Sorted last: it uses the admin the
// first story created (or creates it on a fresh database) and reads the
// run's whole outbox, every email the suite produced.

const corpus = loadCorpus();
/** C0 controls but tab and line breaks: refused in every field before anything is stored (checked in X1). */
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;
const storable = (p: Payload) => !FORBIDDEN.test(p.text);
const forbidden = corpus.filter((p) => !storable(p));
const run = Date.now().toString(36);
const mailDir = path.join(process.env.SHIPLOG_E2E_DIR ?? path.join(tmpdir(), 'shiplog-e2e'), 'mail');
const ROUNDS = 3;
const today = () => new Date().toISOString().slice(0, 10);
const inDays = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString().slice(0, 10);
const sha = () => randomBytes(20).toString('hex');

// ------------------------------------------------------------ which payload fits where

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const length = (s: string) => Array.from(s.trim()).length;
/** One line of at most `max` characters (titles, names: the server refuses control characters). */
const line = (max: number) => (p: Payload) => !CONTROL.test(p.text) && p.text.trim() !== '' && length(p.text) <= max;
/** No white space either (versions). */
const word = (max: number) => (p: Payload) => line(max)(p) && !/\s/.test(p.text.trim());
const anything = (p: Payload) => p.text.trim() !== '';
/**
 * What the server keeps of a one-line text (right-to-left overrides and
 * zero-width characters removed; joiners kept between two non-ASCII
 * characters, as in emoji), and what a page shows of it.
 */
const INVISIBLE = /^[\u200B\u200E\u200F\u061C\u2060\uFEFF\u202A-\u202E\u2066-\u2069]$/;
function visible(s: string): string {
  const chars = Array.from(s);
  const joins = (c: string | undefined) => c !== undefined && c.codePointAt(0)! > 0x7f && !INVISIBLE.test(c);
  return chars
    .filter((c, i) => !INVISIBLE.test(c) && (!/^[\u200C\u200D]$/.test(c) || (joins(chars[i - 1]) && joins(chars[i + 1]))))
    .join('');
}
const shown = (s: string) => visible(s).trim().replace(/[\t\n\f\r ]+/g, ' ');

/** Where each payload went (field names), and what the server refused. */
const placed = new Map<number, Set<string>>();
const refused: string[] = [];
const fieldCounts = new Map<string, number>();
function place(p: Payload, field: string) {
  if (!placed.has(p.n)) placed.set(p.n, new Set());
  placed.get(p.n)?.add(field);
  fieldCounts.set(field, (fieldCounts.get(field) ?? 0) + 1);
}

let salt = 0;
/** `count` payloads that fit, spread over the corpus, a different stretch for each field. */
function pick(fits: (p: Payload) => boolean, count: number): Payload[] {
  const pool = corpus.filter(fits);
  if (pool.length === 0) return [];
  const step = Math.max(1, Math.floor(pool.length / count));
  const start = (salt++ * 37) % pool.length;
  const out = new Map<number, Payload>();
  for (let i = 0; out.size < Math.min(count, pool.length) && i < pool.length * 2; i++) {
    const p = pool[(start + i * step + Math.floor(i / pool.length)) % pool.length];
    out.set(p.n, p);
  }
  return [...out.values()];
}
/** The first payload whose template matches, else any that fits. */
function choose(pattern: RegExp, fits: (p: Payload) => boolean): Payload {
  return corpus.find((p) => pattern.test(p.template) && fits(p)) ?? pick(fits, 1)[0];
}
/** Several payloads as one Markdown text. */
const markdown = (ps: Payload[]) => ps.map((p) => p.text).join('\n\n');

// ------------------------------------------------------------ state handed from test to test

const findings = new Findings();
const people = { x: { email: `xss-x-${run}@example.com`, name: '' }, y: { email: `xss-y-${run}@example.com`, name: '' } };
let xContext: BrowserContext | undefined; // signed in as X, an admin with a payload for a name
let yContext: BrowserContext | undefined; // signed in as Y, an engineer with a payload for a name
const links: { member?: string; admins?: string } = {};
let pendingInvite: string | undefined;
/** Team pages to open, with the title each must show (when it holds stored text). */
const teamPages = new Map<string, string | undefined>();
/** Public pages (paths without the private-link prefix), with their title. */
const publicPages = new Map<string, string | undefined>();
/** Texts a page must show literally, by path. */
const literal = new Map<string, string[]>();
const publicEntryIds: number[] = [];
const cohortEntryIds: number[] = [];
const adminEntryIds: number[] = [];
const campaignIds: number[] = [];
const announced: { slug: string; title: string }[] = [];
/** The campaign page's email previews (the sandboxed frame's HTML), opened with the emails. */
const previews: { label: string; html: string }[] = [];
const privateReleases: { slug: string; title: string; admins: boolean }[] = [];

// ------------------------------------------------------------ HTTP helpers

type Answer = { status: number; body: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(request: APIRequestContext, method: string, url: string, token: string, data?: unknown): Promise<Answer> {
  const response = await request.fetch(url, {
    method,
    headers: { Authorization: `Bearer ${token}` },
    ...(data === undefined ? {} : { data }),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (an empty 204).
  }
  return { status: response.status(), body };
}

/** A call that must succeed. */
async function must(request: APIRequestContext, method: string, url: string, token: string, data?: unknown) {
  const answer = await call(request, method, url, token, data);
  expect(answer.status, `${method} ${url}: ${JSON.stringify(answer.body).slice(0, 600)}`).toBeLessThan(300);
  return answer.body;
}

/** A call storing payloads in `field`: recorded where it landed, or why it was refused (422). */
async function store(request: APIRequestContext, field: string, ps: Payload[], method: string, url: string, token: string, data?: unknown) {
  const answer = await call(request, method, url, token, data);
  if (answer.status === 422) {
    refused.push(`${field} (payloads ${ps.map((p) => p.n).join(', ')}): ${answer.body?.error?.message ?? answer.status}`);
    return undefined;
  }
  expect(answer.status, `${method} ${url}: ${JSON.stringify(answer.body).slice(0, 600)}`).toBeLessThan(300);
  ps.forEach((p) => place(p, field));
  return answer.body;
}

/** A server function of the app, as the signed-in person of `context` calls it. */
async function serverFn(context: BrowserContext, baseURL: string, name: string, form: Record<string, string>) {
  const response = await context.request.post(`/fn/${name}`, { form, headers: { Origin: baseURL } });
  const text = await response.text();
  let body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  return { status: response.status(), body };
}

// ------------------------------------------------------------ browser helpers

async function newContext(browser: Browser, baseURL: string, options: { javaScriptEnabled?: boolean } = {}) {
  const context = await browser.newContext({ baseURL, ...options });
  await context.addInitScript(hydrationProbe);
  await watchContext(context, findings);
  return context;
}

const inflight = new WeakMap<Page, number>();
function trackRequests(page: Page) {
  if (inflight.has(page)) return;
  inflight.set(page, 0);
  page.on('request', () => inflight.set(page, (inflight.get(page) ?? 0) + 1));
  const done = () => inflight.set(page, Math.max(0, (inflight.get(page) ?? 0) - 1));
  page.on('requestfinished', done);
  page.on('requestfailed', done);
}

/**
 * Waits until the page has fetched what it needs (`app`: the app's calls
 * after hydration too) and its images have loaded (or failed).
 */
async function settle(page: Page, app = true) {
  let quiet = 0;
  for (let i = 0; app && i < 100 && quiet < 3; i++) {
    await page.waitForTimeout(100);
    quiet = (inflight.get(page) ?? 0) === 0 ? quiet + 1 : 0;
  }
  if (app) {
    await page
      .waitForFunction(() => !/^Loading|…$/.test(document.querySelector('main p')?.textContent?.trim() ?? '') || document.querySelectorAll('main p').length > 1, undefined, { timeout: 10_000 })
      .catch(() => {});
  }
  await page.waitForFunction(() => Array.from(document.images).every((img) => img.complete), undefined, { timeout: 10_000 }).catch(() => {});
  // Handlers of images that just failed run in the task after.
  await page.waitForTimeout(50);
}

/** Nothing ran or could run here; the title shows its text. */
async function inspect(page: Page, label: string, title?: string, allowFrames: string[] = []) {
  const texts = literal.get(new URL(page.url()).pathname);
  const state = await page.evaluate(pageReport, { allowFrames, withText: texts !== undefined });
  if (state.xss !== undefined) findings.xss.push(`${label}: top.__xss = ${JSON.stringify(state.xss)}`);
  for (const v of state.csp) if (!findings.csp.some((c) => c.includes(v))) findings.csp.push(`${label}: ${v}`);
  for (const d of state.found) findings.dom.push(`${label}: ${d}`);
  if (title !== undefined && state.title !== shown(title)) {
    findings.titles.push(`${label}: ${JSON.stringify(state.title)} instead of ${JSON.stringify(shown(title))}`);
  }
  const body = shown(state.text);
  for (const t of texts ?? []) if (!body.includes(shown(t))) findings.titles.push(`${label}: does not show ${JSON.stringify(t)} literally`);
}

/** A full load of a team page, hydrated. */
async function fullLoad(page: Page, url: string, title: string | undefined, label: string) {
  const response = await gotoHydrated(page, url);
  expect(response?.status(), `${label} ${url}`).toBeLessThan(400);
  await settle(page);
  await inspect(page, `${label} ${url} (full load)`, title, ['iframe.email-preview[sandbox=""]']);
}

/** The app's own navigation: a click on a link to `url`, handled by the router without a page load. */
async function clientNav(page: Page, url: string, title: string | undefined, label: string) {
  await page.evaluate(() => { (window as unknown as { __sameDocument?: string }).__sameDocument = 'yes'; });
  await page.evaluate((href) => {
    const existing = Array.from(document.querySelectorAll('a')).find((a) => a.getAttribute('href') === href);
    const a = existing ?? Object.assign(document.createElement('a'), { href, textContent: 'go' });
    if (!existing) document.body.append(a);
    a.click();
  }, url);
  const want = new URL(url, page.url());
  const params = (u: URL) => JSON.stringify([...u.searchParams]);
  await page.waitForURL((u) => u.pathname === want.pathname && params(u) === params(want), { timeout: 15_000 });
  await settle(page);
  expect(await page.evaluate(() => (window as unknown as { __sameDocument?: string }).__sameDocument), `${url} opened in the same document`).toBe('yes');
  await inspect(page, `${label} ${url} (client-side navigation)`, title, ['iframe.email-preview[sandbox=""]']);
}

/** What went wrong since the last report (and, printed, what is known or harmless). */
function report(what: string) {
  const all = findings.all();
  if (findings.imageMisses.length) console.log(`${what}: ${findings.imageMisses.length} images kept without a loadable source (404), e.g. ${findings.imageMisses[0]}`);
  for (const [k, n] of findings.known) console.log(`${what}: known, not script: ${k} (${n} times)`);
  findings.reset();
  return all;
}

// ------------------------------------------------------------ the tests

test.describe('Stored XSS: the corpus in every field, every page and email opened', () => {
  test.describe.configure({ mode: 'serial' });

  test.afterAll(async () => {
    await xContext?.close();
    await yContext?.close();
  });

  test('X0. the watch itself sees a script that runs, one the CSP refuses, and markup that could run', async ({ browser, baseURL }) => {
    const base = need(baseURL, 'the base URL');
    const context = await newContext(browser, base);
    const page = await context.newPage();
    const serve = (body: string, csp?: string) =>
      page.route(`${base}/__xss-self-test`, (route) =>
        route.fulfill({ status: 200, contentType: 'text/html', headers: csp ? { 'content-security-policy': csp } : {}, body }),
      );
    await serve(`<p>${corpus[0].text}</p><img src=x onerror="top.__xss=2,alert(2)">`);
    await page.goto('/__xss-self-test');
    await settle(page, false);
    await inspect(page, 'self-test, no CSP');
    await page.unrouteAll();
    await serve('<script>top.__xss=3</script><a href="javascript:alert(4)">x</a><div onclick="alert(5)">y</div>', "script-src 'none'");
    await page.goto('/__xss-self-test');
    await settle(page, false);
    await inspect(page, 'self-test, with CSP');
    await context.close();
    expect(findings.dialogs.length, findings.dialogs.join('\n')).toBeGreaterThanOrEqual(2);
    expect(findings.xss.length, 'top.__xss was seen').toBeGreaterThanOrEqual(1);
    expect(findings.csp.length, 'the CSP violation was seen').toBeGreaterThanOrEqual(1);
    expect(findings.dom.some((d) => d.includes('script URL in href')), findings.dom.join('\n')).toBe(true);
    expect(findings.dom.some((d) => d.includes('handler onclick')), findings.dom.join('\n')).toBe(true);
    // Start clean for the real thing.
    findings.reset();
  });

  test('X1. the corpus goes into every text field, through the API and the app', async ({ browser, baseURL, request }) => {
    test.setTimeout(300_000);
    const base = need(baseURL, 'the base URL');
    expect(corpus.length, 'the corpus has its payloads').toBeGreaterThan(200);

    // --- Ada, the first admin, signs in (or, run alone on a fresh database, sets up).
    const ada = await newContext(browser, base);
    const adaPage = await ada.newPage();
    trackRequests(adaPage);
    await gotoHydrated(adaPage, '/login');
    if (/\/setup$/.test(adaPage.url())) {
      await adaPage.getByLabel('Your name').fill(ADMIN.name);
      await adaPage.getByLabel('Email', { exact: true }).fill(ADMIN.email);
      await adaPage.getByLabel(/^Password/).fill(PASSWORD);
      await adaPage.getByRole('button', { name: 'Create admin account' }).click();
    } else {
      await adaPage.getByLabel('Email', { exact: true }).fill(ADMIN.email);
      await adaPage.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await adaPage.getByRole('button', { name: 'Sign in' }).click();
    }
    await expect(adaPage).toHaveURL(/\/app$/);

    // --- API tokens named with payloads (their names label everything they write).
    const tokenNames = [
      choose(/^<img src=x onerror=@@JS@@>$/, line(100)),
      choose(/^\{\{link\}\}/, line(100)),
      choose(/^'><svg onload/, line(100)),
      ...pick(line(100), 3),
    ];
    const secrets: string[] = [];
    for (const [i, p] of tokenNames.entries()) {
      const role = i === 0 ? 'engineer' : 'admin';
      const answer = await serverFn(ada, base, 'create_token', { name: p.text, role });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      place(p, 'API token name');
      secrets.push(answer.body.secret);
    }
    // An engineer token for CI, an admin token, and a second admin token (a reviewer who is not the author).
    const t = { ci: secrets[0], admin: secrets[1], second: secrets[2] };

    // --- People: Ada invites X (an admin) in the app; X joins with a payload for a name.
    const xName = choose(/^"><img src=x/, line(100));
    const yName = choose(/^<\/script><script>/, line(100));
    people.x.name = xName.text.trim();
    people.y.name = yName.text.trim();
    await gotoHydrated(adaPage, '/app/people');
    const invite = adaPage.getByRole('region', { name: 'Invite someone', exact: true });
    await invite.getByLabel('Email', { exact: true }).fill(people.x.email);
    await invite.locator('select[name="role"]').selectOption('admin');
    await invite.getByRole('button', { name: 'Send invitation' }).click();
    const linkField = adaPage.getByTestId('invite-link');
    await expect(linkField).toHaveValue(/\/invite\/[^/\s]+$/);
    const xLink = await linkField.inputValue();
    xContext = await newContext(browser, base);
    const xPage = await xContext.newPage();
    trackRequests(xPage);
    await gotoHydrated(xPage, xLink);
    await xPage.getByLabel('Your name').fill(xName.text);
    await xPage.getByLabel(/password/i).fill(PASSWORD);
    await xPage.getByRole('button', { name: 'Join' }).click();
    await expect(xPage).toHaveURL(/\/app$/);
    place(xName, 'person name (joined by invitation, in the app)');

    // X invites Y (an engineer): the invitation email names X. Y joins, named with a payload.
    const yInvite = await serverFn(xContext, base, 'invite', { email: people.y.email, role: 'engineer' });
    expect(yInvite.status, JSON.stringify(yInvite.body)).toBe(200);
    yContext = await newContext(browser, base);
    const yPage = await yContext.newPage();
    trackRequests(yPage);
    await gotoHydrated(yPage, need(yInvite.body.link, 'the invitation link'));
    await yPage.getByLabel('Your name').fill(yName.text);
    await yPage.getByLabel(/password/i).fill(PASSWORD);
    await yPage.getByRole('button', { name: 'Join' }).click();
    await expect(yPage).toHaveURL(/\/app$/);
    place(yName, 'person name (joined by invitation, in the app)');
    // Invitations still pending: one to open signed out, and payload-shaped addresses (the people page).
    const pending = await serverFn(xContext, base, 'invite', { email: `xss-pending-${run}@example.com`, role: 'pm' });
    expect(pending.status, JSON.stringify(pending.body)).toBe(200);
    pendingInvite = pending.body.link;
    for (const p of corpus.filter((c) => /@example\.com$/.test(c.template))) {
      const answer = await serverFn(xContext, base, 'invite', { email: p.text, role: 'viewer' });
      if (answer.status === 200) {
        place(p, 'invitation address');
      } else {
        refused.push(`invitation address (payload ${p.n}): ${JSON.stringify(answer.body).slice(0, 200)}`);
      }
    }
    // X and Ada hear about every failure, by email.
    const everything = 'build.failed,deploy.failed,deploy.rolled_back,block.placed,block.lifted,gate.closed';
    for (const context of [ada, xContext]) {
      const saved = await serverFn(context, base, 'save_notifications', { events: everything });
      expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    }

    // --- Audiences: cohorts and accounts named with payloads, private links.
    const cohorts: string[] = [];
    for (const [i, p] of pick(line(100), 3).entries()) {
      const slug = `xss-c${i}-${run}`;
      if (await store(request, 'cohort name', [p], 'POST', '/api/v1/cohorts', t.admin, { slug, name: p.text })) cohorts.push(slug);
    }
    const accounts: string[] = [];
    for (const [i, p] of pick(line(100), 4).entries()) {
      const slug = `xss-a${i}-${run}`;
      if (await store(request, 'account name', [p], 'POST', '/api/v1/accounts', t.admin, { slug, name: p.text })) accounts.push(slug);
    }
    expect(cohorts.length).toBeGreaterThan(0);
    expect(accounts.length).toBeGreaterThan(1);
    await must(request, 'PUT', `/api/v1/cohorts/${cohorts[0]}/members`, t.admin, { accounts });
    links.member = (await must(request, 'POST', `/api/v1/accounts/${accounts[0]}/links`, t.admin, { admin: false })).url;
    links.admins = (await must(request, 'POST', `/api/v1/accounts/${accounts[1]}/links`, t.admin, { admin: true })).url;

    // --- Subscribers (one reads as an account, one is asked to confirm), suppressions.
    const readers = [1, 2, 3, 4].map((i) => `xss-reader-${run}-${i}@example.com`);
    await must(request, 'POST', '/api/v1/subscribers', t.admin, [
      { email: readers[0], confirmed: true },
      { email: readers[1], confirmed: true, account: accounts[0] },
      { email: readers[2], confirmed: true, digest: 'daily' },
      { email: readers[3], confirmed: false },
    ]);
    for (const p of corpus.filter((c) => /@example\.com$/.test(c.template))) {
      await store(request, 'subscriber address', [p], 'POST', '/api/v1/subscribers', t.admin, { email: p.text, confirmed: true });
    }
    for (const [i, p] of pick(line(500), 3).entries()) {
      await store(request, 'suppression detail', [p], 'POST', '/api/v1/suppressions', t.admin, { email: `xss-suppressed-${run}-${i}@example.com`, reason: 'manual', detail: p.text });
    }

    // --- Webhooks (they will fail to deliver: the delivery log shows why).
    for (const [i, p] of pick(line(300), 3).entries()) {
      const url = `http://127.0.0.1:9/hook-${i}?${p.text.trim()}`;
      await store(request, 'webhook address', [p], 'POST', '/api/v1/webhooks', t.admin, {
        url,
        events: everything.split(','),
        secret: `${p.text.trim()}-padding-to-sixteen`.slice(0, 200),
        format: i % 2 ? 'slack' : 'json',
      });
    }

    // --- Risk: risky components with notes, a checklist of payloads for medium risk.
    for (const p of pick(line(60), 3)) {
      await store(request, 'risky component', [p], 'PUT', `/api/v1/risk/components/${encodeURIComponent(p.text.trim().toLowerCase())}`, t.admin, { note: p.text });
    }
    const checklist = pick(line(150), 3);
    await store(request, 'risk rule checklist item', checklist, 'PUT', '/api/v1/risk/rules/medium', t.admin, {
      approvals: 1,
      checklist: checklist.map((p) => p.text),
      staged: false,
    });

    // --- Deploys: every payload is an entry's body, and its title wherever it fits.
    const components = pick(line(60), 16);
    const versions = pick(word(100), 20);
    const authors = pick(line(100), 12);
    const kinds = ['feature', 'fix', 'improvement', 'security'];
    const CHUNK = 40;
    let version = 0;
    const nextVersion = () => versions[version++ % versions.length];
    const deploys: DeployJson[] = [];
    const entryFor = (p: Payload, i: number) => {
      const audience = i % 10 === 3 ? `cohort:${cohorts[0]}` : i % 15 === 7 ? 'admins' : i % 12 === 5 ? 'internal' : 'everyone';
      const title = line(200)(p) ? p.text : `Payload ${p.n}, in the body`;
      const candidate = `https://example.com/notes?${p.text.trim()}`;
      let link: string | undefined;
      try {
        if (i % 6 === 0 && !CONTROL.test(candidate)) link = new URL(candidate).href;
      } catch {
        link = undefined;
      }
      return {
        title,
        body: p.text,
        kind: kinds[i % kinds.length],
        audience,
        risk: 'low',
        component: components[i % components.length].text,
        breaking: i % 20 === 0,
        ...(link ? { links: [link] } : {}),
      };
    };
    // Payloads with control characters never get in: each is refused, naming the field.
    for (const p of forbidden) {
      const answer = await call(request, 'POST', '/api/v1/deploys', t.ci, {
        environment: 'production', version: nextVersion().text, status: 'succeeded',
        entries: [{ title: `Payload ${p.n}`, kind: 'fix', body: p.text }],
      });
      expect(answer.status, `payload ${p.n}: ${JSON.stringify(answer.body)}`).toBe(422);
      expect((answer.body as { error: { field: string } }).error.field).toBe('entries[0].body');
    }
    for (let start = 0; start < corpus.length; start += CHUNK) {
      const chunk = corpus.slice(start, start + CHUNK).filter(storable);
      const v = nextVersion();
      const body = {
        environment: 'production',
        version: v.text,
        status: 'succeeded',
        entries: chunk.map((p, j) => entryFor(p, start + j)),
        commits: chunk.map((p, j) => ({ sha: sha(), message: p.text, author: authors[(start + j) % authors.length].text })),
      };
      const deploy = (await must(request, 'POST', '/api/v1/deploys', t.ci, body)) as DeployJson;
      deploys.push(deploy);
      place(v, 'deploy version');
      chunk.forEach((p) => {
        place(p, 'entry body (Markdown)');
        place(p, 'commit message');
        if (line(200)(p)) place(p, 'entry title');
      });
      authors.forEach((p) => place(p, 'commit author'));
      components.forEach((p) => place(p, 'entry component'));
      for (const e of deploy.entries) {
        if (e.audience === 'everyone') {
          publicEntryIds.push(e.id);
          publicPages.set(`/changes/${e.id}`, `${e.title} · Release notes`);
        }
        if (e.audience.startsWith('cohort:')) cohortEntryIds.push(e.id);
        if (e.audience === 'admins') adminEntryIds.push(e.id);
      }
      teamPages.set(`/app/deploys/${deploy.id}`, `${v.text} on production · Shiplog`);
      literal.set(`/app/deploys/${deploy.id}`, deploy.entries.map((e) => e.title));
    }
    expect(publicEntryIds.length).toBeGreaterThan(100);

    // Entries drafted from conventional commits (no entries sent): their titles come from the messages.
    const drafted = pick(line(150), 12);
    const fromCommits = await store(request, 'commit message (drafted into an entry)', drafted, 'POST', '/api/v1/deploys', t.ci, {
      environment: 'production',
      version: nextVersion().text + '-drafted',
      status: 'succeeded',
      commits: drafted.map((p, i) => ({
        sha: sha(),
        message: i % 4 === 3 ? `feat!: breaking ${p.n}\n\nBREAKING CHANGE: ${p.text}` : `${i % 2 ? 'fix' : 'feat'}(xss): ${p.text.trim()}`,
        author: authors[i % authors.length].text,
      })),
    });
    if (fromCommits) teamPages.set(`/app/deploys/${fromCommits.id}`, `${fromCommits.version} on production · Shiplog`);

    // Staging: risky changes waiting for production (the risk page), payloads in their titles.
    const waiting = pick(line(200), 8);
    const staging = (await store(request, 'entry title (staging, risky)', waiting, 'POST', '/api/v1/deploys', t.ci, {
      environment: 'staging',
      version: nextVersion().text + '-staging',
      status: 'succeeded',
      entries: waiting.map((p, i) => ({ title: p.text, body: p.text, kind: 'feature', risk: i % 2 ? 'medium' : 'high', component: components[i].text })),
    })) as DeployJson | undefined;
    if (staging) {
      teamPages.set(`/app/deploys/${staging.id}`, `${staging.version} on staging · Shiplog`);
      const medium = staging.entries.find((e, i) => i % 2 === 1);
      if (medium && checklist.length) {
        await must(request, 'PUT', `/api/v1/entries/${medium.id}/checklist`, t.second, { item: checklist[0].text, done: true });
      }
    }
    // A failed deploy and a rolled-back one (failure emails and webhooks).
    const failedVersion = nextVersion();
    const failed = await store(request, 'deploy version (failed)', [failedVersion], 'POST', '/api/v1/deploys', t.ci, {
      environment: 'production', version: failedVersion.text + '-failed', status: 'failed',
      entries: [{ title: pick(line(200), 1)[0].text, kind: 'fix' }],
    });
    if (failed) teamPages.set(`/app/deploys/${failed.id}`, `${failed.version} on production · Shiplog`);
    const backVersion = nextVersion();
    const back = await store(request, 'deploy version (rolled back)', [backVersion], 'POST', '/api/v1/deploys', t.ci, {
      environment: 'production', version: backVersion.text + '-back', status: 'succeeded',
      entries: [{ title: pick(line(200), 1)[0].text, kind: 'fix' }],
    });
    if (back) {
      await must(request, 'PATCH', `/api/v1/deploys/${back.id}`, t.ci, { status: 'rolled_back' });
      teamPages.set(`/app/deploys/${back.id}`, `${back.version} on production · Shiplog`);
    }
    // A failed build: version, branch and commit messages (a failure email and webhook).
    const build = pick(word(100), 1)[0];
    const branch = pick(line(200), 1)[0];
    const buildCommits = pick(anything, 3).filter(storable);
    await store(request, 'build version, branch and commits', [build, branch, ...buildCommits], 'POST', '/api/v1/builds', t.ci, {
      version: build.text + '-build', commit: sha(), branch: branch.text, status: 'failed',
      commits: buildCommits.map((p) => ({ sha: sha(), message: p.text })),
      url: `https://ci.example.com/build?${encodeURIComponent(build.text)}`,
    });

    // --- Releases: titles (email subjects), version names, stories; two announced.
    const half = Math.ceil(publicEntryIds.length / 2);
    const releases = [
      { entries: publicEntryIds.slice(0, half), audience: 'everyone', publish: true, announce: true },
      { entries: publicEntryIds.slice(half), audience: 'everyone', publish: true, announce: true },
      { entries: cohortEntryIds, audience: `cohort:${cohorts[0]}`, publish: true, announce: false },
      { entries: adminEntryIds, audience: 'admins', publish: true, announce: false },
      { entries: [], audience: 'everyone', publish: false, announce: false },
    ];
    // The second one looks like encoded words: its subject must still read as the title, literally.
    const releaseTitles = [choose(/^<\/title><script>/, line(200)), choose(/^=\?UTF-8\?B\?/, line(200)), ...pick(line(200), releases.length - 2)];
    const versionNames = pick(line(60), releases.length);
    for (const [i, r] of releases.entries()) {
      const title = releaseTitles[i];
      const story = pick(anything, 24).filter(storable);
      const slug = `xss-release-${i}-${run}`;
      const created = await store(request, 'release title, version name and story (Markdown)', [title, versionNames[i], ...story], 'POST', '/api/v1/releases', t.admin, {
        title: title.text, slug, version_name: versionNames[i].text, narrative: markdown(story), audience: r.audience,
      });
      if (!created) continue;
      teamPages.set(`/app/releases/${slug}`, `${title.text} · Shiplog`);
      if (r.entries.length) await must(request, 'POST', `/api/v1/releases/${slug}/entries`, t.admin, { entry_ids: r.entries });
      if (!r.publish) continue;
      const draft = await must(request, 'GET', `/api/v1/releases/${slug}/draft`, t.admin);
      const revision = draft.release?.revision ?? draft.revision;
      await must(request, 'POST', `/api/v1/releases/${slug}/publish`, t.admin, { revision, override: true, announce: r.announce });
      if (r.audience === 'everyone') publicPages.set(`/releases/${slug}`, `${title.text} · Release notes`);
      else privateReleases.push({ slug, title: title.text, admins: r.audience === 'admins' });
      if (r.announce) announced.push({ slug, title: title.text });
    }
    // Announce: each published, announced release has a draft campaign; send it.
    const campaigns = (await must(request, 'GET', '/api/v1/campaigns', t.admin)) as { id: number; release: string; status: string }[];
    for (const a of announced) {
      const c = campaigns.find((x) => x.release === a.slug) ?? (await must(request, 'POST', '/api/v1/campaigns', t.admin, { release: a.slug }));
      await must(request, 'POST', `/api/v1/campaigns/${c.id}/send`, t.admin, { at: null });
      campaignIds.push(c.id);
      teamPages.set(`/app/campaigns/${c.id}`, undefined);
    }

    // --- Incidents: titles, customer impact (Markdown), root-cause notes, holes, actions, a customer note, an alert.
    const impact = pick(anything, 20).filter(storable);
    const incTitle = choose(/^<\/TITLE><img/, line(200));
    const incident = await store(request, 'incident title and customer impact (Markdown)', [incTitle, ...impact], 'POST', '/api/v1/incidents', t.ci, {
      title: incTitle.text, severity: 'sev2', environment: 'production', detected_at: new Date(Date.now() - 3_600_000).toISOString(),
      detected_by: 'monitoring-app', customer_impact: markdown(impact), caused_by_entry_ids: [publicEntryIds[0]],
    });
    const owners = [ADMIN.email, people.x.email, people.y.email];
    if (incident) {
      const id = incident.id ?? incident.incident?.id;
      teamPages.set(`/app/incidents/${id}`, `${incident.number ?? incident.incident?.number} ${incTitle.text} · Shiplog`);
      for (const [i, p] of pick(line(200), 3).entries()) {
        const action = await store(request, 'action title', [p], 'POST', '/api/v1/actions', t.admin, {
          title: p.text, owner_email: owners[i % owners.length], due: i === 0 ? today() : inDays(7 + i), type: 'code', incident_id: id,
        });
        if (action && i === 2) {
          const note = pick(line(1000), 1);
          await store(request, 'action note', note, 'PATCH', `/api/v1/actions/${action.id}`, t.admin, { status: 'dropped', note: note[0].text });
        }
      }
      for (const [i, p] of pick(line(300), 2).entries()) {
        const component = pick(line(60), 1)[0];
        const actionTitle = pick(line(200), 1)[0];
        await store(request, 'hole description, component and action', [p, component, actionTitle], 'POST', `/api/v1/incidents/${id}/holes`, t.admin, {
          area: i ? 'end-to-end' : 'application', component: component.text, description: p.text,
          action: { title: actionTitle.text, owner_email: owners[i], due: inDays(14), type: i ? 'testing' : 'monitoring' },
        });
      }
      const summary = pick(anything, 16).filter(storable);
      const noteFields = pick(line(2000), 10);
      const note = await store(request, 'root-cause note (summary Markdown, fields, whys, timeline)', [...summary, ...noteFields], 'PUT', `/api/v1/incidents/${id}/root-cause`, t.admin, {
        category: 'code', summary: markdown(summary), factors: noteFields[0].text, lessons: noteFields[1].text, trigger: noteFields[2].text,
        went_well: noteFields[3].text, whys: noteFields.slice(4, 7).map((p) => p.text),
        timeline: noteFields.slice(7).map((p, i) => ({ at: new Date(Date.now() - (3 - i) * 600_000).toISOString(), text: p.text })),
      });
      if (note) await must(request, 'POST', `/api/v1/incidents/${id}/root-cause/review`, t.second, { revision: note.note?.revision ?? 1 });
      // Fixed in production, then customers are told, in an entry of the fixing deploy.
      await must(request, 'PATCH', `/api/v1/incidents/${id}`, t.admin, { status: 'resolved', fixed_by_deploy_id: deploys[deploys.length - 1].id });
      const told = pick(line(200), 1)[0];
      const toldBody = pick(anything, 6).filter(storable);
      const customerNote = await store(request, 'customer note (title and Markdown body)', [told, ...toldBody], 'POST', `/api/v1/incidents/${id}/customer-note`, t.admin, {
        title: told.text, body: markdown(toldBody), announce: false,
      });
      const noteEntry = customerNote?.entry?.id ?? customerNote?.entry_id;
      if (typeof noteEntry === 'number') publicPages.set(`/changes/${noteEntry}`, `${shown(told.text)} · Release notes`);
    }
    for (const p of pick(line(200), 2)) {
      const open = await store(request, 'incident title', [p], 'POST', '/api/v1/incidents', t.admin, {
        title: p.text, severity: 'sev1', environment: 'production', detected_at: new Date().toISOString(), detected_by: 'customer', customer_impact: '',
      });
      if (open) teamPages.set(`/app/incidents/${open.id ?? open.incident?.id}`, `${open.number ?? open.incident?.number} ${p.text} · Shiplog`);
    }
    const alertName = pick(line(150), 1)[0];
    const alertSummary = pick(line(150), 1)[0];
    const alertText = pick(line(1000), 1)[0];
    const labels = { alertname: alertName.text, severity: 'critical', environment: 'production' };
    const annotations = { summary: alertSummary.text, description: alertText.text };
    const alert = await store(request, 'alert name, summary and description (Alertmanager)', [alertName, alertSummary, alertText], 'POST', '/api/v1/alerts', t.ci, {
      status: 'firing', groupKey: `xss-${run}`, groupLabels: { alertname: alertName.text }, commonLabels: labels, commonAnnotations: annotations,
      alerts: [{ status: 'firing', labels, annotations, startsAt: new Date().toISOString(), fingerprint: `xss-${run}` }],
    });
    for (const number of (alert?.opened ?? []) as string[]) teamPages.set(`/app/incidents/${number.replace(/\D/g, '')}`, undefined);

    // --- Retros: a closed one (items, votes, an action, a review) and an open one.
    for (const round of [0, 1]) {
      const current = (await must(request, 'GET', '/api/v1/retros', t.admin)) as { retros?: { id: number; status: string }[] } | { id: number; status: string }[];
      const list = Array.isArray(current) ? current : current.retros ?? [];
      for (const r of list.filter((x) => x.status === 'open')) await must(request, 'POST', `/api/v1/retros/${r.id}/close`, t.admin);
      const title = pick(line(200), 1)[0];
      const retro = await store(request, 'retro title', [title], 'POST', '/api/v1/retros', t.admin, { title: title.text });
      if (!retro) continue;
      teamPages.set(`/app/retros/${retro.id}`, `${title.text.trim()} · Shiplog`);
      const items: number[] = [];
      for (const [i, p] of pick(line(1000), 6).entries()) {
        const item = await store(request, 'retro item', [p], 'POST', `/api/v1/retros/${retro.id}/items`, i % 2 ? t.second : t.admin, {
          column: ['went_well', 'to_improve', 'ideas'][i % 3].replace(/_/g, '-'), body: p.text, anonymous: i % 3 === 2,
        });
        if (item) items.push(item.id ?? item.item?.id);
      }
      if (items.length) await call(request, 'POST', `/api/v1/retros/${retro.id}/items/${items[0]}/vote`, t.second);
      if (round === 0 && items.length > 1) {
        const actionTitle = pick(line(200), 1)[0];
        const made = await store(request, 'action title (from a retro item)', [actionTitle], 'POST', `/api/v1/retros/${retro.id}/items/${items[1]}/action`, t.admin, {
          title: actionTitle.text, owner_email: people.x.email, due: inDays(10), type: 'process',
        });
        const number = made?.number ?? made?.action?.number;
        const reviewNote = pick(line(1000), 1)[0];
        if (number) {
          await store(request, 'retro review note', [reviewNote], 'POST', `/api/v1/retros/${retro.id}/reviews`, t.admin, {
            action_id: number, outcome: 'still-open', note: reviewNote.text, due: inDays(20),
          });
        }
        await must(request, 'POST', `/api/v1/retros/${retro.id}/close`, t.admin);
      }
    }

    // --- Blocks (block emails and webhooks), lifted with payload notes; reasons for nights.
    for (const [i, p] of pick(line(500), 4).entries()) {
      const component = pick(line(60), 1)[0];
      const block = await store(request, 'block reason and component', [p, component], 'POST', '/api/v1/blocks', i % 2 ? t.ci : t.admin, {
        environment: i < 2 ? 'production' : 'staging', reason: p.text, component: component.text, expires_at: new Date(Date.now() + 3 * 3_600_000).toISOString(),
      });
      if (block && i !== 1) {
        const liftNote = pick(line(500), 1)[0];
        await store(request, 'block lift note', [liftNote], 'DELETE', `/api/v1/blocks/${block.id}`, t.second, { note: liftNote.text });
      }
    }
    await call(request, 'PUT', '/api/v1/environments/production', t.admin, { kind: 'production', schedule_days: [1, 2, 3, 4, 5, 6, 7], schedule_time: '22:00' });
    for (const [i, p] of pick(line(500), 3).entries()) {
      await store(request, 'deploy night note', [p], 'PUT', `/api/v1/calendar/production/${inDays(-(i + 2))}`, t.admin, { reason: ['holiday', 'chosen', 'no_build'][i], note: p.text });
    }

    // --- Every payload is stored somewhere, and every field took several.
    const missing = corpus.filter((p) => storable(p) && !placed.has(p.n)).map((p) => p.n);
    expect(missing, 'payloads stored nowhere').toEqual([]);
    console.log(`XSS corpus: ${corpus.length} payloads (${forbidden.length} with control characters, refused), stored in ${fieldCounts.size} fields:\n${[...fieldCounts].map(([f, n]) => `  ${f}: ${n}`).join('\n')}`);
    if (refused.length) console.log(`Refused by validation (${refused.length}):\n  ${refused.join('\n  ')}`);
    for (const [field, n] of fieldCounts) expect(n, `payloads stored in ${field}`).toBeGreaterThan(0);

    // The campaigns finish and the notifications go out before the emails are read.
    for (const id of campaignIds) {
      await expect.poll(async () => (await must(request, 'GET', `/api/v1/campaigns/${id}`, t.admin)).status, { timeout: 60_000, message: `campaign ${id} sent` }).toBe('sent');
    }
    await ada.close();
    expect(report('X1'), 'nothing ran while the corpus was written').toEqual([]);
  });

  test('X2. every public page, on the public site and through private links, several times', async ({ browser, baseURL, request }) => {
    test.setTimeout(900_000);
    const base = need(baseURL, 'the base URL');
    const member = new URL(need(links.member, 'the member link')).pathname;
    const admins = new URL(need(links.admins, 'the admins link')).pathname;
    const context = await newContext(browser, base); // JavaScript on: whatever got in would run
    const page = await context.newPage();
    trackRequests(page);

    // The lists, as readers page through them (rel=next), on each site.
    const pages = new Map<string, string | undefined>();
    for (const prefix of ['', member, admins]) {
      for (const first of [`${prefix}/`, `${prefix}/changes`]) {
        let next: string | null = first;
        for (let i = 0; next && i < 30; i++) {
          pages.set(next, undefined);
          await page.goto(next);
          next = await page.locator('a[rel="next"]').first().getAttribute('href', { timeout: 1_000 }).catch(() => null);
        }
      }
    }
    for (const [p, title] of publicPages) {
      pages.set(p, title);
      if (p.startsWith('/releases/')) pages.set(`${member}${p}`, title);
    }
    for (const r of privateReleases) pages.set(`${r.admins ? admins : member}/releases/${r.slug}`, `${r.title} · Release notes`);
    for (const id of cohortEntryIds) pages.set(`${member}/changes/${id}`, undefined);
    for (const id of adminEntryIds) pages.set(`${admins}/changes/${id}`, undefined);
    for (const id of publicEntryIds.filter((_, i) => i % 10 === 0)) pages.set(`${member}/changes/${id}`, publicPages.get(`/changes/${id}`));
    // Searches and filters that echo what was typed.
    for (const p of pick(line(200), 6)) {
      pages.set(`/?q=${encodeURIComponent(p.text)}`, undefined);
      pages.set(`/changes?q=${encodeURIComponent(p.text)}`, undefined);
      pages.set(`${member}/changes?q=${encodeURIComponent(p.text)}&kind=fix`, undefined);
    }
    const components = await page.goto('/changes').then(() => page.locator('select[name="component"] option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value).filter(Boolean)));
    for (const c of components.slice(0, 20)) pages.set(`/changes?component=${encodeURIComponent(c)}`, undefined);
    // Subscribing, and the pages the emails link to (preferences, unsubscribe).
    pages.set('/subscribe', undefined);
    pages.set(`${member}/subscribe`, undefined);
    for (const f of readdirSync(mailDir).filter((x) => x.endsWith('.eml'))) {
      const mail = parseMail(path.join(mailDir, f));
      for (const m of mail.text.matchAll(/https?:\/\/[^\s"<>]+\/(subscription|unsubscribe)\/[^\s"<>]+/g)) pages.set(new URL(m[0]).pathname, undefined);
    }
    // Pages that are not there, for a payload in the address.
    const missing = new Set<string>();
    for (const p of pick(line(100), 4)) {
      const slug = encodeURIComponent(p.text);
      missing.add(`/releases/${slug}`);
      missing.add(`${member}/releases/${slug}`);
      missing.add(`/a/${slug}/changes`);
    }

    console.log(`X2: opening ${pages.size} public pages and ${missing.size} missing ones, ${ROUNDS} times each`);
    const start = Date.now();
    let loads = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (const [url, title] of pages) {
        const response = await page.goto(url);
        loads++;
        expect(response?.status(), url).toBe(200);
        expect(response?.headers()['content-security-policy'] ?? '', `${url} runs no script`).toContain("default-src 'none'");
        await settle(page, false);
        await inspect(page, `public ${url}`, title);
      }
      for (const url of missing) {
        findings.expectedErrors.add(new URL(url, base).href);
        const response = await page.goto(url);
        loads++;
        expect(response?.status(), url).toBe(404);
        await inspect(page, `public ${url} (not found)`);
      }
    }
    // The subscribe form answers a refused address with the address in its message.
    for (const prefix of ['', member]) {
      for (const p of pick(line(200), 3)) {
        findings.expectedErrors.add(new URL(`${prefix}/subscribe`, base).href);
        await page.goto(`${prefix}/subscribe`);
        const field = page.locator('main input[name="email"]');
        await field.evaluate((input) => input.setAttribute('type', 'text'));
        await field.fill(p.text);
        await page.locator('main form[method="post"] button[type="submit"]').first().click();
        await page.waitForLoadState('load');
        loads++;
        await inspect(page, `public ${prefix}/subscribe, refused ${JSON.stringify(p.text)}`);
      }
    }
    console.log(`X2: ${pages.size + missing.size} public pages, ${loads} loads in ${Math.round((Date.now() - start) / 1000)} s`);

    // Feeds are read as text by feed readers: never served as HTML.
    for (const prefix of ['', member, admins]) {
      for (const feed of ['releases.atom', 'releases.json', 'changes.atom', 'changes.json']) {
        const response = await request.get(`${prefix}/feeds/${feed}`);
        expect(response.status(), feed).toBe(200);
        expect(response.headers()['content-type'], `${prefix}/feeds/${feed}`).not.toMatch(/html/i);
        expect(response.headers()['x-content-type-options']).toBe('nosniff');
      }
    }
    await context.close();
    expect(report('X2'), 'public pages ran nothing').toEqual([]);
  });

  test('X3. every team page, by full loads and by the app\'s own navigation, several times', async ({ browser, baseURL }) => {
    test.setTimeout(1_200_000);
    const base = need(baseURL, 'the base URL');
    const x = need(xContext, 'X, signed in');
    const page = x.pages()[0] ?? (await x.newPage());
    trackRequests(page);
    const lists = [
      '/app', '/app?environment=staging', '/app/incidents', '/app/actions', '/app/holes', '/app/blocks', '/app/metrics',
      '/app/environments', '/app/calendar', '/app/risk', '/app/webhooks', '/app/audit', '/app/profile', '/app/retros',
      '/app/people', '/app/tokens', '/app/releases', '/app/unannounced', '/app/customers', '/app/subscribers', '/app/campaigns',
    ];
    const all = new Map<string, string | undefined>(lists.map((l) => [l, undefined]));
    for (const [p, title] of teamPages) all.set(p, title);
    // What the pages echo from their address.
    for (const p of pick(line(100), 2)) {
      all.set(`/app/audit?actor=${encodeURIComponent(p.text)}`, undefined);
      all.set(`/app/incidents?environment=${encodeURIComponent(p.text)}`, undefined);
    }

    const start = Date.now();
    let loads = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (const [url, title] of all) {
        await fullLoad(page, url, title, 'X');
        loads++;
      }
    }
    // The app's own navigation: from page to page in one document, there and back.
    await gotoHydrated(page, '/app');
    for (const order of [[...all.keys()], [...all.keys()].reverse()]) {
      for (const url of order) {
        await clientNav(page, url, all.get(url), 'X');
        loads++;
      }
    }
    // What some pages render only when asked: the campaign's email preview, an entry's editor preview.
    for (const id of campaignIds) {
      await gotoHydrated(page, `/app/campaigns/${id}`);
      const preview = page.getByRole('region', { name: 'Preview' });
      await preview.getByLabel("Subscriber's address").fill(`xss-reader-${run}-2@example.com`);
      await preview.getByRole('button', { name: 'Preview' }).click();
      await expect(preview.locator('iframe.email-preview')).toBeVisible();
      await settle(page);
      previews.push({ label: `preview of campaign ${id}`, html: await preview.locator('iframe.email-preview').evaluate((f) => (f as HTMLIFrameElement).srcdoc) });
      await inspect(page, `X /app/campaigns/${id} (preview)`, undefined, ['iframe.email-preview[sandbox=""]']);
    }
    // Each webhook's delivery log (the failures name what was sent).
    await gotoHydrated(page, '/app/webhooks');
    const logs = page.locator('button').filter({ hasText: /^(Deliveries|Hide deliveries)$/ });
    await expect(logs.first()).toBeVisible();
    for (let i = 0, n = await logs.count(); i < n; i++) {
      await logs.nth(i).click();
      await expect(page.getByRole('button', { name: 'Hide deliveries' })).toBeVisible();
      await settle(page);
      await inspect(page, 'X /app/webhooks (a delivery log)');
    }
    const firstDeploy = [...teamPages.keys()].find((p) => p.startsWith('/app/deploys/'));
    if (firstDeploy) {
      await gotoHydrated(page, firstDeploy);
      for (const entry of (await page.locator('li.entry').all()).slice(0, 3)) {
        await entry.getByRole('button', { name: 'Edit' }).click();
        await expect(entry.getByTestId('preview')).toBeVisible();
        await settle(page);
        await entry.getByRole('button', { name: 'Cancel' }).click();
      }
      await inspect(page, `X ${firstDeploy} (editor previews)`);
    }

    // Y, an engineer, and someone signed out, on the pages they can open.
    const y = need(yContext, 'Y, signed in');
    const yPage = y.pages()[0] ?? (await y.newPage());
    trackRequests(yPage);
    const mine = ['/app', '/app/risk', '/app/profile', '/app/actions', ...[...teamPages.keys()].filter((p) => /\/app\/(deploys|incidents|retros)\//.test(p))];
    for (let round = 0; round < ROUNDS; round++) {
      for (const url of mine) {
        await fullLoad(yPage, url, teamPages.get(url), 'Y');
        loads++;
      }
    }
    const guest = await newContext(browser, base);
    const guestPage = await guest.newPage();
    trackRequests(guestPage);
    // Where sign-in goes next comes from the address: never to a script.
    for (const next of ['javascript:top.__xss=1,alert(1)', '//example.com/<script>alert(2)</script>', '/app"><img src=x onerror=alert(3)>']) {
      const signIn = await newContext(browser, base);
      const p = await signIn.newPage();
      trackRequests(p);
      await gotoHydrated(p, `/login?next=${encodeURIComponent(next)}`);
      await p.getByLabel('Email', { exact: true }).fill(people.y.email);
      await p.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.waitForURL((u) => u.pathname.startsWith('/app'));
      expect(new URL(p.url()).origin, `signed in with next=${next}`).toBe(new URL(base).origin);
      await waitForHydration(p).catch(() => {});
      await settle(p);
      await inspect(p, `after signing in with next=${JSON.stringify(next)}`);
      await signIn.close();
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const url of ['/login', ...(pendingInvite ? [new URL(pendingInvite).pathname] : [])]) {
        await fullLoad(guestPage, url, undefined, 'signed out');
        loads++;
      }
    }
    await guest.close();
    console.log(`X3: ${all.size} team pages as X, ${mine.length} as Y; ${loads} loads in ${Math.round((Date.now() - start) / 1000)} s`);

    // Files for the signed-in person are downloads, never pages.
    for (const file of ['/app/subscribers/export.csv', '/app/metrics/dora.csv']) {
      const response = await x.request.get(file);
      expect(response.status(), file).toBe(200);
      expect(response.headers()['content-type'], file).not.toMatch(/html/i);
    }
    expect(report('X3'), 'team pages ran nothing').toEqual([]);
  });

  test('X4. every email of the run, opened without any Content Security Policy, several times', async ({ browser }) => {
    test.setTimeout(600_000);
    const read = () => readdirSync(mailDir).filter((f) => f.endsWith('.eml')).sort().map((f) => parseMail(path.join(mailDir, f)));
    // What this file sent is there: both announcements to each reader, the
    // invitation X sent (naming X), failure notifications to X (the engine sends them in the background).
    // A subject reads as the release title; a title that looks like RFC 2047
    // encoded words is written into the header as it is (lettre encodes only
    // non-ASCII text), so a decoding mail client shows other text: noted below.
    const titled = (m: Mail, title: string) => shown(m.subject) === shown(title) || (m.headers['subject'] ?? '') === title.trim();
    const expected = (mails: Mail[]) => [
      ...announced.map((a) => mails.filter((m) => titled(m, a.title)).length >= 3),
      mails.some((m) => m.to.includes(people.y.email) && m.subject.includes(people.x.name)),
      mails.some((m) => m.subject.startsWith('[Shiplog]') && m.to.includes(people.x.email)),
    ];
    await expect.poll(() => expected(read()), { timeout: 60_000, message: 'announcements (subject: the release title), the invitation, a failure notification' }).not.toContain(false);
    const mails = read();
    expect(previews.length, 'the campaign page showed its previews').toBe(campaignIds.length);
    for (const m of mails.filter((x) => announced.some((a) => titled(x, a.title) && shown(x.subject) !== shown(a.title)))) {
      findings.note(`a release title that looks like encoded words is sent as the Subject verbatim; decoded it reads ${JSON.stringify(m.subject)}`);
    }
    for (const m of mails) {
      // The header is ASCII (non-ASCII text travels as encoded words, which
      // decoded without error above); the text it decodes to has no control character.
      expect(m.headers['subject'] ?? '', `${m.file}: the Subject header`).toMatch(/^[\x20-\x7e]*$/);
      expect(CONTROL.test(m.subject), `${m.file}: control characters in the subject`).toBe(false);
      expect(m.html.length, `${m.file} has an HTML part`).toBeGreaterThan(0);
    }

    const context = await browser.newContext();
    await watchContext(context, findings);
    const page = await context.newPage();
    trackRequests(page);
    const dir = mkdtempSync(path.join(tmpdir(), 'shiplog-xss-mail-'));
    const start = Date.now();
    let opened = 0;
    const documents = [
      ...mails.map((m) => ({ label: `email ${path.basename(m.file)} (${JSON.stringify(m.subject.slice(0, 60))})`, html: m.html })),
      ...previews,
    ];
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, m] of documents.entries()) {
        const label = m.label;
        await page.setContent(m.html, { waitUntil: 'load' });
        await settle(page, false);
        await inspect(page, `${label} in a page`);
        const file = path.join(dir, `${i}.html`);
        writeFileSync(file, m.html);
        await page.goto(pathToFileURL(file).href);
        await settle(page, false);
        await inspect(page, `${label} as a file`);
        opened += 2;
      }
    }
    await context.close();
    console.log(`X4: ${mails.length} emails and ${previews.length} previews, ${opened} openings in ${Math.round((Date.now() - start) / 1000)} s`);
    expect(report('X4'), 'emails ran nothing').toEqual([]);
  });
});
