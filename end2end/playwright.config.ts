import { defineConfig, devices } from '@playwright/test';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// Shiplog's end-to-end suite: starts the release binary on a fresh SQLite
// database and drives it with the system Chromium.
//
//   cargo leptos build --release && (cd end2end && npx playwright test)
//
// Environment: E2E_PORT (default 3456), SHIPLOG_BIN (default target/release/shiplog).

const repoRoot = path.resolve(__dirname, '..');
const port = Number(process.env.E2E_PORT ?? 3456);
const baseURL = `http://127.0.0.1:${port}`;
const bin = process.env.SHIPLOG_BIN ?? path.join(repoRoot, 'target', 'release', 'shiplog');

// Playwright loads this file in the runner and again in each worker. Only the
// runner (no TEST_WORKER_INDEX) creates the run's folder; the workers inherit
// its path through the environment, so they never touch the live database.
if (process.env.TEST_WORKER_INDEX === undefined && !process.env.SHIPLOG_E2E_DIR) {
  process.env.SHIPLOG_E2E_DIR = mkdtempSync(path.join(tmpdir(), 'shiplog-e2e-'));
}
const runDir = process.env.SHIPLOG_E2E_DIR ?? path.join(tmpdir(), 'shiplog-e2e');
const dbFile = path.join(runDir, 'shiplog.db');
const mailDir = path.join(runDir, 'mail');
if (process.env.TEST_WORKER_INDEX === undefined) {
  // Every run starts from an empty database: first-run setup is the first test.
  for (const suffix of ['', '-wal', '-shm']) rmSync(dbFile + suffix, { force: true });
  mkdirSync(mailDir, { recursive: true });
}

export default defineConfig({
  testDir: './tests',
  // The tests share one server and one database and build on each other.
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: 'list',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  use: {
    baseURL,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
  projects: [
    {
      name: 'chromium',
      use: {
        ...devices['Desktop Chrome'],
        // The system Chromium; never `npx playwright install`.
        launchOptions: {
          executablePath: '/usr/bin/chromium',
          args: [
            '--no-sandbox',
            '--disable-gpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
            '--disable-quic',
          ],
        },
      },
    },
  ],
  webServer: {
    command: `"${bin}" serve`,
    cwd: repoRoot,
    url: `${baseURL}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    // Request logs stay quiet; start-up errors (stderr) are shown.
    stdout: 'ignore',
    stderr: 'pipe',
    env: {
      DATABASE_URL: `sqlite://${dbFile}`,
      SHIPLOG_LISTEN: `127.0.0.1:${port}`,
      SHIPLOG_PUBLIC_URL: baseURL,
      LEPTOS_SITE_ROOT: path.join(repoRoot, 'target', 'site'),
      LEPTOS_OUTPUT_NAME: 'shiplog',
      SHIPLOG_MAIL_DIR: mailDir,
      // Empty beats a SMTP_URL from a local .env (dotenv never overrides a set
      // variable): with no SMTP server, invitation links are shown in the page.
      SMTP_URL: '',
      // The suite's webhooks post to receivers on this machine.
      SHIPLOG_WEBHOOK_ALLOW_PRIVATE: 'true',
    },
  },
});
