import { expect, test, type Page } from '@playwright/test';
import { ADMIN, PASSWORD, gotoHydrated, hydrationProbe, watch, type DeployJson } from './support';

// Defects first: an engineer files an incident from the deploy that caused
// it, narrows the cause down among the suspects in one click, and resolves
// it. Sorted last: it runs on the same server and database as the others.

const run = Date.now().toString(36);

test.describe('Incidents', () => {
  test.describe.configure({ mode: 'serial' });
  const dialogs: string[] = [];
  const pageErrors: string[] = [];
  let page: Page;

  test.beforeAll(async ({ browser }, testInfo) => {
    const context = await browser.newContext({ baseURL: testInfo.project.use.baseURL });
    await context.addInitScript(hydrationProbe);
    page = await context.newPage();
    watch(page, dialogs, pageErrors);
  });

  test.afterAll(async () => {
    await page?.context().close();
  });

  test.afterEach(() => {
    expect(pageErrors, 'uncaught errors in the page').toEqual([]);
  });

  test('I1. an engineer files an incident from a deploy, marks the suspect, writes the note another reviews, records a monitoring hole with its action, resolves it, and closes the action', async ({ request }) => {
    await gotoHydrated(page, '/login');
    await page.getByLabel('Email', { exact: true }).fill(ADMIN.email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page).toHaveURL(/\/app$/);

    await gotoHydrated(page, '/app/tokens');
    const form = page.getByRole('region', { name: 'New token', exact: true });
    await form.getByLabel('Name').fill(`incident CI ${run}`);
    await form.locator('select[name="role"]').selectOption('engineer');
    await form.getByRole('button', { name: 'Create token' }).click();
    const secret = page.getByTestId('token-secret');
    await expect(secret).toHaveValue(/^shp_\S{16,}$/);
    const token = await secret.inputValue();
    await form.getByLabel('Name').fill(`incident reviewer ${run}`);
    await form.locator('select[name="role"]').selectOption('engineer');
    await form.getByRole('button', { name: 'Create token' }).click();
    await expect(secret).not.toHaveValue(token);
    await expect(secret).toHaveValue(/^shp_\S{16,}$/);
    const reviewerToken = await secret.inputValue();

    const response = await request.post('/api/v1/deploys', {
      headers: { Authorization: `Bearer ${token}` },
      data: {
        environment: 'production', version: `inc-${run}`, status: 'succeeded',
        entries: [
          { title: `Rework the checkout ${run}`, kind: 'improvement', risk: 'high', component: 'checkout' },
          { title: `Cache the invoices ${run}`, kind: 'improvement', component: 'billing' },
        ],
      },
    });
    expect(response.status(), await response.text()).toBe(201);
    const deploy = (await response.json()) as DeployJson;

    await gotoHydrated(page, `/app/deploys/${deploy.id}`);
    const invoices = page.locator(`li.entry[data-entry-id="${deploy.entries[1].id}"]`);
    await invoices.getByRole('link', { name: 'File an incident' }).click();
    await expect(page.getByRole('heading', { name: 'File an incident' })).toBeVisible();
    await page.waitForFunction(() => window.__shiplogHydrated === true);
    const filing = page.getByRole('region', { name: 'File an incident' });
    await expect(filing).toContainText(`Caused by entry ${deploy.entries[1].id}.`);
    await filing.getByLabel('What broke').fill(`Checkout answers 500 ${run}`);
    await filing.getByLabel('Severity').selectOption('sev1');
    await filing.getByLabel('Detected by').selectOption('monitoring-app');
    await filing.getByRole('button', { name: 'File incident' }).click();

    await expect(page).toHaveURL(/\/app\/incidents\/\d+$/);
    const incidentId = page.url().split('/').pop();
    await expect(page.getByRole('heading', { level: 1 })).toContainText(`Checkout answers 500 ${run}`);
    await expect(page.getByTestId('causes')).toContainText(`Cache the invoices ${run}`);
    const suspects = page.getByTestId('suspects');
    // The newest deploy comes first; in it, the risky change whose component
    // the incident names ranks first.
    await expect(suspects.getByRole('row').nth(1)).toContainText(`Rework the checkout ${run}`);
    await expect(suspects.getByRole('row').nth(1)).toContainText('the incident names its component, checkout');

    await suspects.getByRole('row').filter({ hasText: `Rework the checkout ${run}` }).getByRole('button', { name: 'Caused by this entry' }).click();
    await expect(page.getByTestId('causes')).toContainText(`Rework the checkout ${run}`);
    await suspects.getByRole('row').filter({ hasText: `Cache the invoices ${run}` }).getByRole('button', { name: 'Not the cause' }).click();
    await expect(page.getByTestId('causes')).not.toContainText(`Cache the invoices ${run}`);

    // Defects first: the deploy log and the entry show it while it is open.
    await gotoHydrated(page, '/app');
    await expect(page.getByTestId('open-incidents')).toContainText(`Checkout answers 500 ${run}`);
    await gotoHydrated(page, `/app/deploys/${deploy.id}`);
    await expect(page.locator(`li.entry[data-entry-id="${deploy.entries[0].id}"]`).getByTestId('entry-incidents')).toContainText('Open');
    await page.getByTestId('entry-incidents').getByRole('link').click();

    await page.waitForFunction(() => window.__shiplogHydrated === true);
    // The hole it found gets an action, owned and due.
    const due = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10);
    const newAction = page.getByRole('form', { name: 'New action' });
    await newAction.getByLabel('What to do').fill(`Review cache expiries ${run}`);
    await newAction.getByLabel('Due').fill(due);
    await newAction.getByLabel('Type').selectOption('monitoring');
    await newAction.getByRole('button', { name: 'Add action' }).click();
    const followUp = page.getByRole('region', { name: 'Follow-up actions' });
    await expect(followUp.getByRole('row').filter({ hasText: `Review cache expiries ${run}` })).toContainText('Open');

    // The blameless note: written by the admin, reviewed by someone else.
    const note = page.getByRole('form', { name: 'Root-cause note' });
    await note.getByLabel('Summary (Markdown)').fill('The checkout cache expired **all at once**.');
    await expect(note.getByTestId('preview').first()).toContainText('all at once');
    await note.getByLabel('Five whys (one per line, in order)').fill('Checkout answered 500\nThe cache was cold\nEvery key had the same expiry');
    await note.getByLabel('Category').selectOption('config');
    await note.getByRole('button', { name: 'Save note' }).click();
    await expect(page.getByTestId('note-status')).toHaveText(`Draft · version 1 · written by ${ADMIN.email}`);
    await expect(page.getByRole('button', { name: 'Approve as reviewer' }), 'its author cannot review it').toHaveCount(0);
    const review = await request.post(`/api/v1/incidents/${incidentId}/root-cause/review`, {
      headers: { Authorization: `Bearer ${reviewerToken}` },
      data: { revision: 1 },
    });
    expect(review.status(), await review.text()).toBe(200);
    await gotoHydrated(page, `/app/incidents/${incidentId}`);
    await expect(page.getByTestId('note-status')).toContainText('Final · version 1');
    await expect(page.getByTestId('note-status')).toContainText(`reviewed by token:incident reviewer ${run}`);

    // The monitoring hole that let it through, with its repairing action.
    const hole = page.getByRole('form', { name: 'New hole' });
    await hole.getByLabel('Where it was').selectOption('application');
    await hole.getByLabel('What it let through').fill(`No alert on checkout errors ${run}`);
    await hole.getByLabel('Repairing action').fill(`Alert on checkout 5xx ${run}`);
    await hole.getByLabel('Action due').fill(due);
    await hole.getByLabel('Action type').selectOption('monitoring');
    await hole.getByRole('button', { name: 'Record hole' }).click();
    await expect(page.getByTestId('holes')).toContainText(`No alert on checkout errors ${run}`);
    await expect(page.getByTestId('holes')).toContainText('Open');

    await page.getByRole('button', { name: 'Mark resolved' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toContainText('Resolved');
    await expect(page.getByText(/Time to restore: /)).toBeVisible();
    await gotoHydrated(page, '/app');
    await expect(page.getByTestId('open-incidents')).toHaveCount(0);

    // My actions lists it; marking it done moves it to "Closed lately".
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Actions' }).click();
    const mine = page.getByRole('region', { name: /^My actions/ });
    const row = mine.getByRole('row').filter({ hasText: `Alert on checkout 5xx ${run}` });
    await expect(row).toContainText(due);
    await page.waitForFunction(() => window.__shiplogHydrated === true);
    await row.getByRole('button', { name: 'Done' }).click();
    await expect(page.getByRole('region', { name: 'Closed lately' }).getByRole('row').filter({ hasText: `Alert on checkout 5xx ${run}` })).toContainText('Done');
    // The hole closes with its action.
    await gotoHydrated(page, `/app/incidents/${incidentId}`);
    await expect(page.getByTestId('holes').getByRole('row').filter({ hasText: `No alert on checkout errors ${run}` })).toContainText('Closed');
    expect(dialogs).toEqual([]);
  });
});
