import { expect, test, type Page } from '@playwright/test';
import { ADMIN, gotoHydrated, signedIn } from './support';

// Two people in one retro at once: each sees the other's items and votes
// appear without reloading; the facilitator makes an action of an item and
// closes the retro, which turns read-only for both. Sorted after the story
// that invited Dana, on the same server and database.

const DANA = 'dana@example.com';
const run = Date.now().toString(36);

function column(page: Page, name: string) {
  return page.getByRole('region', { name, exact: true });
}

test('R1. two people take part in one retro at once and see each other\'s items and votes appear', async ({ browser, baseURL }) => {
  const dialogs: string[] = [];
  const errors: string[] = [];
  const ada = await signedIn(browser, baseURL, ADMIN.email, dialogs, errors);
  const dana = await signedIn(browser, baseURL, DANA, dialogs, errors);
  try {
    await gotoHydrated(ada, '/app/retros');
    const open = ada.getByRole('form', { name: 'Open a retro' });
    await open.getByLabel('Title (optional)').fill(`Retro ${run}`);
    await open.getByRole('button', { name: 'Open retro' }).click();
    await expect(ada).toHaveURL(/\/app\/retros\/\d+$/);
    await expect(ada.getByRole('heading', { level: 1 })).toContainText(`Retro ${run}`);
    // The review of open actions comes first (the incident story left one).
    await expect(ada.getByRole('heading', { name: 'Open actions to review' })).toBeVisible();
    const url = ada.url();

    await gotoHydrated(dana, url);
    await expect(dana.getByRole('heading', { level: 1 })).toContainText(`Retro ${run}`);

    // Ada adds an item; Dana sees it arrive without a reload.
    const adaAdd = ada.getByRole('form', { name: 'Add an item' });
    await adaAdd.getByLabel('Column').selectOption('went-well');
    await adaAdd.getByLabel('Item').fill(`Nightly deploys were calm ${run}`);
    await adaAdd.getByRole('button', { name: 'Add item' }).click();
    await expect(column(ada, 'Went well')).toContainText(`Nightly deploys were calm ${run}`);
    await expect(column(dana, 'Went well')).toContainText(`Nightly deploys were calm ${run}`, { timeout: 10_000 });
    await expect(column(dana, 'Went well').locator('.retro-author').first()).toHaveText(ADMIN.email);

    // Dana adds one anonymously; Ada sees it, without Dana's name.
    const danaAdd = dana.getByRole('form', { name: 'Add an item' });
    await danaAdd.getByLabel('Column').selectOption('to-improve');
    await danaAdd.getByLabel('Item').fill(`Nobody watched the queue dashboard ${run}`);
    await danaAdd.getByLabel('Stay anonymous to the others').check();
    await danaAdd.getByRole('button', { name: 'Add item' }).click();
    const anonymous = column(ada, 'To improve').locator('.retro-card').filter({ hasText: `Nobody watched the queue dashboard ${run}` });
    await expect(anonymous).toBeVisible({ timeout: 10_000 });
    await expect(anonymous.locator('.retro-author').first()).toHaveText('Anonymous');
    await expect(anonymous.locator('.retro-item').first()).not.toContainText(DANA);

    // Dana votes for Ada's item; Ada sees the vote.
    const danaCard = column(dana, 'Went well').locator('.retro-card').filter({ hasText: `Nightly deploys were calm ${run}` });
    await danaCard.getByRole('button', { name: 'Vote' }).click();
    await expect(danaCard.getByRole('button', { name: 'Take vote back' })).toBeVisible();
    await expect(dana.getByText('2 of your 3 votes left.')).toBeVisible();
    const adaCard = column(ada, 'Went well').locator('.retro-card').filter({ hasText: `Nightly deploys were calm ${run}` });
    await expect(adaCard).toContainText('1 vote', { timeout: 10_000 });
    // Ada votes for Dana's item; Dana sees it.
    await anonymous.getByRole('button', { name: 'Vote' }).click();
    const danaOwn = column(dana, 'To improve').locator('.retro-card').filter({ hasText: `Nobody watched the queue dashboard ${run}` });
    await expect(danaOwn).toContainText('1 vote', { timeout: 10_000 });

    // The facilitator makes an action of the anonymous item, then closes.
    await anonymous.getByText('Make an action').click();
    const make = anonymous.getByRole('form', { name: 'Make an action of this item' });
    const due = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10);
    await make.getByLabel('Due').fill(due);
    await make.getByLabel('Type').selectOption('monitoring');
    await make.getByRole('button', { name: 'Make action' }).click();
    await expect(anonymous).toContainText(/Action: ACT-\d+/);
    await ada.getByRole('button', { name: 'Close retro' }).click();
    await expect(ada.getByRole('button', { name: 'Print' })).toBeVisible();
    await expect(ada.getByRole('form', { name: 'Add an item' })).toHaveCount(0);
    // Dana's board turns read-only without a reload.
    await expect(danaCard.getByRole('button')).toHaveCount(0, { timeout: 10_000 });

    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
  } finally {
    await ada.context().close();
    await dana.context().close();
  }
});
