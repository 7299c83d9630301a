/**
 * The operator console in headless Chromium (Debian's `chromium`, driven by playwright-core)
 * against the real stack: the API on a real port serving the built console, Temporal, workers and
 * the sandbox provider. Each step asserts what the page shows.
 */
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Download, type Page } from 'playwright-core';
import { ensureConsoleBuilt } from '../../scripts/console-build';
import { ADMIN_KEY, approvedSender, startStack, type TestStack } from '../support/harness';
import { downloadTaskFile, fillTaskFile, sheetRows } from '../support/task-files';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const available = fs.existsSync(CHROMIUM);
if (!available) {
  // .ci/run installs Debian's chromium; only a machine where it cannot be installed gets here.
  console.warn(`SKIPPED the console browser tests: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
}
const suite = available ? describe : describe.skip;

/** Long enough for the campaign to be paused from the page before it ends. */
const SMS_RATE_PER_SECOND = '3';
const DELIVERED_ROWS = 20;
const UNDELIVERED_ROWS = 3;

suite('operator console in Chromium', () => {
  let stack: TestStack;
  let server: Server;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let downloads: string;
  const taskName = `Console campaign ${Date.now().toString(36)}`;
  const run = String(Date.now() % 1000).padStart(3, '0');
  /** Distinct numbers for this run (+7 999 rrr iii d); the last digit decides the sandbox outcome (API.md). */
  const phone = (i: number, last: number) => `+7999${run}${String(i).padStart(3, '0')}${last}`;
  /** The browser's zone (fixed UTC+3, no DST): the send window typed on the page is open now. */
  const timezoneId = 'Europe/Moscow';
  // Moscow's wall clock (UTC+3) some hours from the test's start: one instant for every use, so a
  // minute that turns between two steps does not change the expected value.
  const startedAt = Date.now();
  const moscowClock = (offsetHours: number) => new Date(startedAt + (3 + offsetHours) * 3_600_000).toISOString().slice(11, 16);

  beforeAll(async () => {
    await ensureConsoleBuilt();
    stack = await startStack({ worker: true, env: { SMS_RATE_PER_SECOND } });
    server = await new Promise<Server>((resolve) => {
      const s = stack.app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-dev-shm-usage'],
    });
    context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1500, height: 1000 }, locale: 'en-GB', timezoneId });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    downloads = fs.mkdtempSync(path.join(os.tmpdir(), 'console-test-'));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await stack?.close();
    if (downloads) fs.rmSync(downloads, { recursive: true, force: true });
  });

  /** Clicks `click` and returns the download it starts, saved. */
  async function download(click: () => Promise<void>): Promise<{ file: string; download: Download }> {
    const [started] = await Promise.all([page.waitForEvent('download'), click()]);
    const file = path.join(downloads, started.suggestedFilename());
    await started.saveAs(file);
    return { file, download: started };
  }

  const taskRow = () => page.locator(`tr[data-task="${taskName}"]`);

  it('serves the console at / and its routes, and keeps the API and health as they were', async () => {
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('<div id="root">');
    expect((await fetch(`${base}/tasks/00000000-0000-4000-8000-000000000000/history`)).status).toBe(200);
    const unknownApi = await fetch(`${base}/api/v1/nothing-here`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
    expect(unknownApi.status).toBe(404);
    expect(((await unknownApi.json()) as { error: { code: string } }).error.code).toBe('not_found');
    expect((await fetch(`${base}/health`)).headers.get('content-type')).toContain('application/json');
    expect((await fetch(`${base}/assets/missing.js`)).status).toBe(404);
  });

  it('refuses an unknown key and signs in with the admin key', async () => {
    await page.goto(`${base}/`);
    await page.getByLabel('API key').fill('not-a-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'The API does not accept this key.' }).waitFor();

    await page.getByLabel('API key').fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Notification tasks' }).waitFor();
    expect(await page.getByTestId('role').textContent()).toBe('Admin');
    expect(page.url()).toBe(`${base}/tasks`);
    // The key is kept for the tab: a reload stays signed in.
    await page.reload();
    await page.getByRole('heading', { name: 'Notification tasks' }).waitFor();
  });

  it('downloads the task files, uploads an SMS task through the page and shows its row errors', async () => {
    await page.getByRole('button', { name: 'Task files' }).click();
    const template = await download(() => page.getByRole('menuitem', { name: 'sms.xlsx' }).click());
    expect(template.download.suggestedFilename()).toMatch(/\.xlsx$/);
    expect((await sheetRows(fs.readFileSync(template.file)))[0]).toEqual(expect.arrayContaining(['phone', 'text', 'sender', 'externalId']));

    const sender = await approvedSender(stack, 'sms');
    const rows = [
      ...Array.from({ length: DELIVERED_ROWS }, (_, i) => ({ phone: phone(i, i % 2 === 0 ? 0 : 7), text: `Order ${i} is ready`, sender })),
      ...Array.from({ length: UNDELIVERED_ROWS }, (_, i) => ({ phone: phone(50 + i, 1), text: `Order ${50 + i} is ready`, sender })),
      { phone: 'not a phone', text: 'bad phone', sender },
      { phone: phone(90, 0), text: 'unknown sender', sender: 'NOBODY' },
    ];
    const file = path.join(downloads, 'campaign.xlsx');
    fs.writeFileSync(file, await fillTaskFile(await downloadTaskFile(stack, 'sms'), rows));

    await page.getByRole('button', { name: 'Create task' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name').fill(taskName);
    await dialog.locator('input[type="file"]').setInputFiles(file);
    await dialog.getByRole('button', { name: 'Add a window' }).click();
    await dialog.getByLabel('From 1').fill(moscowClock(-1));
    await dialog.getByLabel('To 1').fill(moscowClock(3));
    await dialog.getByRole('button', { name: 'Upload and create' }).click();

    const created = dialog.getByTestId('task-created');
    await created.waitFor();
    expect(await created.textContent()).toContain(`${DELIVERED_ROWS + UNDELIVERED_ROWS} rows accepted, 2 rejected`);
    const errors = dialog.getByTestId('row-errors');
    await errors.locator('tbody tr').nth(1).waitFor();
    expect(await errors.locator('tbody tr').count()).toBe(2);
    const errorText = await errors.textContent();
    expect(errorText).toContain('not a phone');
    expect(errorText).toContain('NOBODY');
    const errorFile = await download(() => dialog.getByRole('button', { name: 'Download errors.xlsx' }).click());
    expect(errorFile.download.suggestedFilename()).toMatch(/errors\.xlsx$/);
    expect(await sheetRows(fs.readFileSync(errorFile.file))).toHaveLength(3);
    await dialog.getByRole('button', { name: 'Done' }).click();

    await taskRow().waitFor();
    expect(await taskRow().getAttribute('data-status')).toBe('created');
    expect(await taskRow().textContent()).toContain(`${DELIVERED_ROWS + UNDELIVERED_ROWS} accepted, 2 rejected`);
    expect(await taskRow().getByRole('button', { name: 'Start' }).isVisible()).toBe(true);
    expect(await taskRow().getByRole('button', { name: 'Pause' }).count()).toBe(0);
    expect(await taskRow().getByRole('link', { name: 'Temporal run' }).getAttribute('href')).toMatch(/^http.*workflows\//);
    // The time limiter typed on the page is the task's.
    const listed = await stack.admin().get(`/api/v1/tasks?name=${encodeURIComponent(taskName)}`).expect(200);
    expect(listed.body.items[0]).toMatchObject({ timezone: timezoneId, sendWindows: [{ from: moscowClock(-1), to: moscowClock(3) }], rejected: 2 });
  });

  it('finds the task by name and category, and clears the filters', async () => {
    await page.getByLabel('Name', { exact: true }).fill('no task has this name');
    await page.getByText('Nothing found').waitFor();
    await page.getByRole('button', { name: 'Clear' }).click();
    await taskRow().waitFor();
    await page.getByText('Paused', { exact: true }).first().click();
    await taskRow().waitFor({ state: 'detached' });
    await page.getByText('Created', { exact: true }).first().click();
    await taskRow().waitFor();
    await page.getByRole('button', { name: 'Clear' }).click();
    await taskRow().waitFor();
  });

  it("edits the task's time limiter before it starts", async () => {
    await taskRow().getByRole('button', { name: 'Edit', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('Edit the task').waitFor();
    expect(await dialog.getByLabel('To 1').inputValue()).toBe(moscowClock(3));
    await dialog.getByLabel('To 1').fill(moscowClock(4));
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    const listed = await stack.admin().get(`/api/v1/tasks?name=${encodeURIComponent(taskName)}`).expect(200);
    expect(listed.body.items[0]).toMatchObject({ status: 'created', sendWindows: [{ from: moscowClock(-1), to: moscowClock(4) }] });
  });

  it('starts, pauses and resumes the task from the list and watches it complete with its counts', async () => {
    await taskRow().getByRole('button', { name: 'Start' }).click();
    await page.locator(`tr[data-task="${taskName}"][data-status="in_progress"]`).waitFor();
    await taskRow().getByRole('button', { name: 'Pause' }).click();
    await page.locator(`tr[data-task="${taskName}"][data-status="paused"]`).waitFor();
    await taskRow().locator('[data-count="PAUSED"]').waitFor();
    expect(await taskRow().getByRole('button', { name: 'Resume' }).isVisible()).toBe(true);
    expect(await taskRow().getByRole('button', { name: 'Start' }).count()).toBe(0);

    await taskRow().getByRole('button', { name: 'Resume' }).click();
    await page.locator(`tr[data-task="${taskName}"][data-status="completed"]`).waitFor({ timeout: 90_000 });
    // Receipts may land a moment after the task ends: wait for the final counts.
    await taskRow().locator('[data-count="UNDELIVERED"]').filter({ hasText: `UNDELIVERED ${UNDELIVERED_ROWS}` }).waitFor();
    await taskRow().locator('[data-count="DELIVERED"]').filter({ hasText: `DELIVERED ${DELIVERED_ROWS}` }).waitFor();
    expect(await taskRow().locator('[data-count]').count()).toBe(2);
    expect(await taskRow().getByRole('button', { name: /^(Start|Pause|Resume|Cancel task)$/ }).count()).toBe(0);
  }, 150_000);

  it("opens the task's notification history", async () => {
    await taskRow().getByRole('link', { name: taskName }).click();
    await page.getByRole('heading', { name: 'Notification history' }).waitFor();
    expect(await page.getByTestId('history-task').textContent()).toBe(taskName);
    const timeline = page.getByTestId('timeline');
    await timeline.locator('[data-kind="completed"]').waitFor();
    const kinds = await timeline.locator('[data-kind]').evaluateAll((items) => items.map((i) => i.getAttribute('data-kind')));
    expect(kinds).toEqual(expect.arrayContaining(['created', 'started', 'paused', 'resumed', 'completed']));
    expect(kinds.indexOf('paused')).toBeLessThan(kinds.indexOf('resumed'));
    expect(await timeline.locator('[data-kind="paused"]').textContent()).toContain('Paused');

    // The chart of final statuses over time ends at the final counts.
    const chart = page.getByRole('img', { name: `Final statuses over time: DELIVERED ${DELIVERED_ROWS}, UNDELIVERED ${UNDELIVERED_ROWS}` });
    await chart.waitFor();
    expect(await chart.locator('polyline').evaluateAll((lines) => lines.map((l) => [l.getAttribute('data-status'), l.getAttribute('data-last')]))).toEqual([
      ['DELIVERED', String(DELIVERED_ROWS)],
      ['UNDELIVERED', String(UNDELIVERED_ROWS)],
    ]);
    expect(await page.getByTestId('progress-legend').locator('[data-status-total]').allTextContents()).toEqual([
      `DELIVERED ${DELIVERED_ROWS}`,
      `UNDELIVERED ${UNDELIVERED_ROWS}`,
    ]);
  });

  it("filters the task's messages by status, shows a message's detail and exports the filtered workbook", async () => {
    await page.getByRole('button', { name: 'Messages' }).click();
    await page.getByRole('heading', { name: 'Messages' }).waitFor();
    await page.getByTestId('shown').filter({ hasText: `${DELIVERED_ROWS + UNDELIVERED_ROWS} shown` }).waitFor();

    await page.getByRole('combobox', { name: 'Status', exact: true }).click();
    await page.getByRole('option', { name: 'UNDELIVERED', exact: true }).click();
    await page.getByTestId('shown').filter({ hasText: `${UNDELIVERED_ROWS} shown` }).waitFor();
    const statuses = await page.getByTestId('messages').locator('tbody tr td:nth-child(4)').allTextContents();
    expect(statuses).toEqual(Array(UNDELIVERED_ROWS).fill('UNDELIVERED'));

    await page.getByTestId('messages').locator('tbody tr').first().click();
    const detail = page.getByTestId('message-detail');
    await detail.waitFor();
    expect(await detail.textContent()).toContain('recipient');
    expect(await detail.textContent()).toMatch(/\+7999\d{6}1/);
    await detail.getByTestId('message-events').getByText('UNDELIVERED').first().waitFor();
    await page.keyboard.press('Escape');
    await detail.waitFor({ state: 'detached' });

    const exported = await download(() => page.getByRole('button', { name: 'Export' }).click());
    expect(exported.download.suggestedFilename()).toMatch(/^messages-.*\.xlsx$/);
    const sheet = await sheetRows(fs.readFileSync(exported.file));
    expect(sheet[0]?.slice(0, 5)).toEqual(['Message ID', 'Upload ID', 'Group ID', 'Send ID', 'Status']);
    expect(sheet).toHaveLength(1 + UNDELIVERED_ROWS);
    expect(sheet.slice(1).map((row) => row[4])).toEqual(Array(UNDELIVERED_ROWS).fill('UNDELIVERED'));
    await page.getByTestId('notice').filter({ hasText: exported.download.suggestedFilename() }).waitFor();
  });

  it('checks phones (HLR), lists the checks and exports them', async () => {
    await page.getByRole('link', { name: 'Check phones (HLR)' }).click();
    await page.getByRole('heading', { name: 'Check phones (HLR)' }).waitFor();
    const numbers = [phone(70, 0), phone(71, 8), phone(72, 9)];
    await page.getByTestId('hlr-phones').fill(numbers.join('\n'));
    await page.getByRole('button', { name: 'Check', exact: true }).click();
    await page.getByTestId('hlr-checked').filter({ hasText: '3 numbers checked' }).waitFor();
    const results = page.getByTestId('hlr-results');
    expect(await results.locator(`tr[data-phone="${numbers[0]}"] [data-hlr-status]`).textContent()).toBe('active');
    expect(await results.locator(`tr[data-phone="${numbers[1]}"] [data-hlr-status]`).textContent()).toBe('invalid_number');
    expect(await results.locator(`tr[data-phone="${numbers[2]}"] [data-hlr-status]`).textContent()).toBe('absent_subscriber');

    await page.getByLabel('Number', { exact: true }).fill(numbers[1]!);
    await page.getByTestId('hlr-list').locator('tbody tr').first().waitFor();
    await page.getByTestId('hlr-list').locator(`tbody tr:not([data-phone="${numbers[1]}"])`).first().waitFor({ state: 'detached' });
    expect(await page.getByTestId('hlr-list').locator('tbody tr').count()).toBe(1);
    const exported = await download(() => page.getByRole('button', { name: 'Export' }).click());
    const sheet = await sheetRows(fs.readFileSync(exported.file));
    expect(sheet).toHaveLength(2);
    expect(sheet[1]).toContain(numbers[1]);
  });

  it('deletes the task after confirmation', async () => {
    await page.getByRole('link', { name: 'Notification tasks' }).click();
    await taskRow().getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByText('Delete the task?').waitFor();
    await page.getByTestId('confirm').click();
    await taskRow().waitFor({ state: 'detached' });
    const res = await stack.admin().get(`/api/v1/tasks?name=${encodeURIComponent(taskName)}`).expect(200);
    expect(res.body.total).toBe(0);
  });

  it('signs an operator in as Operator, and switches the interface to Russian', async () => {
    const other = await browser.newContext();
    try {
      const tab = await other.newPage();
      await tab.goto(`${base}/messages`);
      await tab.getByLabel('API key').fill(stack.operatorKey);
      await tab.getByRole('button', { name: 'Sign in' }).click();
      await tab.getByRole('heading', { name: 'Messages' }).waitFor();
      expect(await tab.getByTestId('role').textContent()).toBe('Operator');
      await tab.getByText('RU', { exact: true }).click();
      await tab.getByRole('heading', { name: 'Сообщения' }).waitFor();
      await tab.getByRole('link', { name: 'Задачи уведомлений' }).waitFor();
      expect(await tab.getByTestId('role').textContent()).toBe('Оператор');
    } finally {
      await other.close();
    }
  });
});
