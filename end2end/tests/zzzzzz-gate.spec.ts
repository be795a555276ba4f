import { expect, test } from '@playwright/test';
import { ADMIN, PASSWORD, gotoHydrated, hydrationProbe, signedIn, watch } from './support';

// Anyone can block tonight's deploy: an admin invites a viewer, the viewer
// blocks from the home page, and an engineer sees the gate closed with the
// reason; lifting it takes a note. Sorted last: it runs on the same server
// and database as the story that invited Dana.

const VIEWER = { name: 'Vera Viewer', email: 'vera@example.com' };
const DANA = 'dana@example.com';
const run = Date.now().toString(36);

test('G1. a viewer blocks tonight\'s deploy from the home page and an engineer sees the gate closed', async ({ browser, baseURL }) => {
  const dialogs: string[] = [];
  const errors: string[] = [];
  const admin = await signedIn(browser, baseURL, ADMIN.email, dialogs, errors);
  const guestContext = await browser.newContext({ baseURL });
  await guestContext.addInitScript(hydrationProbe);
  try {
    await gotoHydrated(admin, '/app/people');
    const invite = admin.getByRole('region', { name: 'Invite someone', exact: true });
    await invite.getByLabel('Email', { exact: true }).fill(VIEWER.email);
    await invite.locator('select[name="role"]').selectOption('viewer');
    await invite.getByRole('button', { name: 'Send invitation' }).click();
    const linkField = admin.getByTestId('invite-link');
    await expect(linkField).toHaveValue(/\/invite\/[^/\s]+$/);
    const link = await linkField.inputValue();

    const viewer = await guestContext.newPage();
    watch(viewer, dialogs, errors);
    await gotoHydrated(viewer, link);
    await viewer.getByLabel('Your name').fill(VIEWER.name);
    await viewer.getByLabel(/password/i).fill(PASSWORD);
    await viewer.getByRole('button', { name: 'Join' }).click();
    await expect(viewer).toHaveURL(/\/app$/);
    await gotoHydrated(viewer, '/app');

    const panel = viewer.getByRole('region', { name: "Tonight's deploy" });
    await expect(panel.locator('[data-gate="production"]')).toContainText('Gate open');
    const form = viewer.getByRole('form', { name: 'Block a deploy' });
    await form.getByLabel('Environment').selectOption('production');
    await form.getByLabel('Why').fill(`Payments provider maintenance ${run}`);
    await form.getByRole('button', { name: 'Block the deploy' }).click();
    await expect(panel.locator('[data-gate="production"]')).toContainText('Gate closed');

    const dana = await signedIn(browser, baseURL, DANA, dialogs, errors);
    try {
      const gate = dana.getByRole('region', { name: "Tonight's deploy" }).locator('[data-gate="production"]');
      await expect(gate).toContainText('Gate closed');
      await expect(gate).toContainText(`Payments provider maintenance ${run}`);
      await expect(gate).toContainText(VIEWER.email);

      // Lifting takes a note, and the history keeps both.
      await gotoHydrated(dana, '/app/blocks');
      const row = dana.getByRole('row').filter({ hasText: `Payments provider maintenance ${run}` });
      await row.getByRole('textbox').fill('Maintenance finished early');
      await row.getByRole('button', { name: 'Lift' }).click();
      await expect(row).toContainText('Lifted');
      await expect(row).toContainText('Maintenance finished early');
      await gotoHydrated(dana, '/app');
      await expect(dana.getByRole('region', { name: "Tonight's deploy" }).locator('[data-gate="production"]')).toContainText('Gate open');
    } finally {
      await dana.context().close();
    }
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
  } finally {
    await admin.context().close();
    await guestContext.close();
  }
});

test('G2. the metrics page renders its charts with JavaScript off', async ({ browser, baseURL }) => {
  const dialogs: string[] = [];
  const errors: string[] = [];
  const admin = await signedIn(browser, baseURL, ADMIN.email, dialogs, errors);
  const state = await admin.context().storageState();
  await admin.context().close();
  const context = await browser.newContext({ baseURL, javaScriptEnabled: false, storageState: state });
  try {
    const page = await context.newPage();
    const response = await page.goto('/app/metrics');
    expect(response?.status()).toBe(200);
    await expect(page.getByRole('heading', { name: 'Delivery metrics', level: 1 })).toBeVisible();
    await expect(page.locator('svg[data-chart]')).toHaveCount(4);
    await expect(page.locator('svg[data-chart="deploys"] rect.chart-bar').first()).toBeVisible();
    await expect(page.getByRole('table', { name: 'Delivery metrics week by week' })).toBeVisible();
    // The window form is a plain GET: it works without JavaScript too.
    await page.getByLabel('From').fill('2026-01-01');
    await page.getByRole('button', { name: 'Show' }).click();
    await expect(page).toHaveURL(/from=2026-01-01/);
    await expect(page.locator('svg[data-chart]')).toHaveCount(4);
  } finally {
    await context.close();
  }
});
