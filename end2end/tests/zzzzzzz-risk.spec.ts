import { expect, test } from '@playwright/test';
import { ADMIN, gotoHydrated, signedIn } from './support';

// The process varies with risk: an admin sets the rule for high risk, CI
// ships a high-risk change to staging, an engineer who did not write it
// approves it and ticks its checklist, and the change is ready for
// production. Then an engineer chooses what they are emailed about. Sorted
// last: it runs on the same server and database as the story that invited
// Dana (an engineer).

const DANA = 'dana@example.com';
const run = Date.now().toString(36);

test('G3. a high-risk change waits for an approval and its checklist, then is ready; a person chooses their failure emails', async ({ browser, baseURL, request }) => {
  const dialogs: string[] = [];
  const errors: string[] = [];
  const admin = await signedIn(browser, baseURL, ADMIN.email, dialogs, errors);
  const dana = await signedIn(browser, baseURL, DANA, dialogs, errors);
  try {
    // A CI token, then the rule.
    await gotoHydrated(admin, '/app/tokens');
    const tokens = admin.getByRole('region', { name: 'New token', exact: true });
    await tokens.getByLabel('Name').fill(`risk CI ${run}`);
    await tokens.locator('select[name="role"]').selectOption('engineer');
    await tokens.getByRole('button', { name: 'Create token' }).click();
    const secret = admin.getByTestId('token-secret');
    await expect(secret).toHaveValue(/^shp_\S{16,}$/);
    const token = await secret.inputValue();

    await gotoHydrated(admin, '/app/risk');
    const rule = admin.getByRole('form', { name: 'Rule for high risk' });
    await rule.getByLabel('Approvals from someone other than the author').selectOption('1');
    await rule.getByLabel('Checklist (one item per line)').fill(`Rollback plan ${run}`);
    await rule.getByRole('button', { name: 'Save the rule' }).click();
    await expect(admin.getByRole('region', { name: 'The process by risk' })).toContainText(`Rollback plan ${run}`);

    const response = await request.post('/api/v1/deploys', {
      headers: { Authorization: `Bearer ${token}` },
      data: {
        environment: 'staging', version: `risk-${run}`, status: 'succeeded',
        entries: [{ title: `New payment provider ${run}`, kind: 'feature', risk: 'high', audience: 'admins' }],
      },
    });
    expect(response.status()).toBe(201);

    await gotoHydrated(dana, '/app/risk');
    const row = dana.getByRole('row').filter({ hasText: `New payment provider ${run}` });
    await expect(row).toContainText('needs 1 more approval');
    await expect(row).toContainText(`Rollback plan ${run}`);
    await row.getByRole('button', { name: 'Approve' }).click();
    await expect(row).toContainText(DANA);
    await row.getByRole('checkbox', { name: `Rollback plan ${run}` }).check();
    await expect(row.getByText('Ready')).toBeVisible();

    // Email choices survive a reload.
    await gotoHydrated(dana, '/app/profile');
    const form = dana.getByRole('form', { name: 'Email notifications' });
    await form.getByRole('checkbox', { name: /A build failed/ }).check();
    await form.getByRole('checkbox', { name: /The gate is closed/ }).check();
    await form.getByRole('button', { name: 'Save' }).click();
    await expect(form.getByRole('status')).toHaveText('Saved.');
    await gotoHydrated(dana, '/app/profile');
    await expect(dana.getByRole('checkbox', { name: /A build failed/ })).toBeChecked();
    await expect(dana.getByRole('checkbox', { name: /A deploy failed/ })).not.toBeChecked();

    // The calendar and environments pages render for everyone.
    await gotoHydrated(dana, '/app/environments');
    await expect(dana.locator('[data-environment="staging"]')).toContainText(`risk-${run}`);
    await gotoHydrated(dana, '/app/calendar');
    await expect(dana.getByTestId('streak')).toBeVisible();
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
  } finally {
    await admin.context().close();
    await dana.context().close();
  }
});
