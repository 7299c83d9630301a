/**
 * The operator console's phase 2 pages in headless Chromium against the real stack (API serving
 * the built console, Temporal, workers, the sandbox provider): templates, senders and channels,
 * sending a notification, the dashboard, and what an operator key does not see. Each step asserts
 * what the page shows.
 */
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ensureConsoleBuilt } from '../../scripts/console-build';
import { ADMIN_KEY, approvedSender, startStack, type TestStack } from '../support/harness';
import { downloadTaskFile, fillTaskFile, uploadTask } from '../support/task-files';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const available = fs.existsSync(CHROMIUM);
if (!available) console.warn(`SKIPPED the console phase 2 browser tests: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
const suite = available ? describe : describe.skip;

suite('operator console phase 2 in Chromium', () => {
  let stack: TestStack;
  let server: Server;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const run = Date.now().toString(36);
  const templateName = `Order ready ${run}`;
  let templateId = '';
  const digits = String(Date.now() % 100_000).padStart(5, '0');
  /** Sandbox numbers: a last digit of 0 or 7 is delivered (API.md). */
  const phones = [`+7999${digits}10`, `+7999${digits}27`];

  beforeAll(async () => {
    await ensureConsoleBuilt();
    stack = await startStack({ worker: true });
    server = await new Promise<Server>((resolve) => {
      const s = stack.app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-dev-shm-usage'],
    });
    context = await browser.newContext({ viewport: { width: 1500, height: 1000 }, locale: 'en-GB', timezoneId: 'Europe/Moscow' });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${base}/`);
    await page.getByLabel('API key').fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Notification tasks' }).waitFor();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await stack?.close();
  });

  const nav = (name: string) => page.getByRole('navigation').getByRole('link', { name, exact: true });

  /** An SMS sender requested and approved from the page (an alphanumeric id of up to 11 characters). */
  const smsSender = `P2${run.slice(-8)}`.toUpperCase();

  it('requests a sender, approves it as admin, and enables a channel, with the limits explained', async () => {
    await nav('Senders and channels').click();
    await page.getByRole('heading', { name: 'Senders and channels' }).waitFor();
    expect(await page.getByTestId('channels').locator('tr[data-channel="sms"]').textContent()).toContain('153 per part');
    await page.getByLabel('Sender name').fill(smsSender);
    await page.getByRole('button', { name: 'Request', exact: true }).click();
    await page.getByTestId('notice').filter({ hasText: `Sender “${smsSender}” requested for sms` }).waitFor();
    const row = page.locator(`tr[data-sender="sms:${smsSender}"]`);
    await page.locator(`tr[data-sender="sms:${smsSender}"][data-status="pending"]`).waitFor();
    await row.getByRole('button', { name: 'Approve' }).click();
    await page.locator(`tr[data-sender="sms:${smsSender}"][data-status="approved"]`).waitFor();
    expect(await row.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    const listed = await stack.admin().get('/api/v1/senders?channel=sms&status=approved&pageSize=100&page=1').expect(200);
    expect(listed.body.total).toBeGreaterThan(0);
    // Enable a channel from the page (push starts disabled; when an earlier test enabled it, it is
    // disabled and enabled again from the page).
    const push = page.getByTestId('channels').locator('tr[data-channel="push"]');
    if ((await push.getAttribute('data-enabled')) === 'true') {
      await push.getByRole('button', { name: 'Disable' }).click();
      await page.locator('tr[data-channel="push"][data-enabled="false"]').waitFor();
    }
    await push.getByRole('button', { name: 'Enable' }).click();
    await page.locator('tr[data-channel="push"][data-enabled="true"]').waitFor();
    const channels = await stack.admin().get('/api/v1/channels').expect(200);
    expect(channels.body).toContainEqual({ channel: 'push', enabled: true });
  });

  it('creates a template with an SMS channel and a Viber fallback, with variables detected as typed and a live preview', async () => {
    const viberSender = await approvedSender(stack, 'viber');
    await nav('Templates').click();
    await page.getByRole('heading', { name: 'Templates' }).waitFor();
    await page.getByRole('button', { name: 'New template' }).click();
    await page.getByRole('heading', { name: 'New template' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill(templateName);
    await page.getByLabel('sms sender').fill(smsSender);
    await page.getByLabel('sms text').fill('Hi {name}, order {order} is ready');
    // Detected as typed, before anything is saved.
    await page.getByTestId('variables').locator('[data-variable="order"]').waitFor();
    expect(await page.getByTestId('variables').locator('[data-variable]').evaluateAll((els) => els.map((e) => e.getAttribute('data-variable')))).toEqual(['name', 'order']);
    await page.getByTestId('preview-unsaved').waitFor();
    // Previewed as typed, before anything is saved: rendered by the API with the sample values.
    await page.getByLabel('sample name').fill('Ann');
    await page.getByTestId('preview-parts-sms').filter({ hasText: 'Parts: 1' }).waitFor();
    expect(await page.getByTestId('preview-encoding-sms').textContent()).toBe('Encoding: GSM-7');
    await page.getByLabel('sms text').fill('Привет, {name}, заказ {order} готов');
    await page.getByTestId('preview-encoding-sms').filter({ hasText: 'UCS-2' }).waitFor();
    await page.getByLabel('sms text').fill('Hi {name}, order {order} is ready');
    await page.getByTestId('preview-encoding-sms').filter({ hasText: 'GSM-7' }).waitFor();
    await page.getByLabel('sample name').fill('');

    await page.getByRole('combobox', { name: 'Add a channel' }).click();
    await page.getByRole('option', { name: 'viber', exact: true }).click();
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByLabel('viber sender').fill(viberSender);
    await page.getByLabel('viber text').fill('Hi {name}, your order {order} is ready {track}');
    await page.getByTestId('variables').locator('[data-variable="track"]').waitFor();
    expect(await page.getByLabel('Mandatory viber').isChecked()).toBe(false);
    // Reorder: Viber first, then back; the fallback order is what the page shows.
    await page.getByLabel('Move up viber').click();
    expect(await page.getByTestId('channel-1').getAttribute('data-channel')).toBe('viber');
    await page.getByLabel('Move down viber').click();
    expect(await page.getByTestId('channel-1').getAttribute('data-channel')).toBe('sms');
    await page.getByLabel('viber lifetime').fill('60');

    await page.getByRole('button', { name: 'Create template' }).click();
    await page.getByTestId('notice').filter({ hasText: `Template “${templateName}” saved.` }).waitFor();
    templateId = (await page.getByTestId('template-id').textContent())!.trim();
    expect(page.url()).toBe(`${base}/templates/${templateId}`);
    const saved = await stack.admin().get(`/api/v1/templates/${templateId}`).expect(200);
    expect(saved.body.channels).toEqual([
      expect.objectContaining({ channel: 'sms', mandatory: true, sender: smsSender, lifetimeMinutes: 1440 }),
      expect.objectContaining({ channel: 'viber', mandatory: false, sender: viberSender, lifetimeMinutes: 60 }),
    ]);
    expect(saved.body.variables).toEqual(['name', 'order', 'track']);

    // The API's preview: parts, encoding and cost, re-rendered as the sample values change.
    await page.getByTestId('preview-parts-sms').waitFor();
    expect(await page.getByTestId('preview-encoding-sms').textContent()).toBe('Encoding: GSM-7');
    await page.getByLabel('sample name').fill('Анна'.repeat(20));
    await page.getByTestId('preview-encoding-sms').filter({ hasText: 'UCS-2' }).waitFor();
    const variables = { name: 'Анна'.repeat(20), order: 'order', track: 'track' };
    const api = await stack.admin().post(`/api/v1/templates/${templateId}/preview`).send({ variables }).expect(200);
    const sms = api.body.channels[0];
    expect(sms.parts).toBeGreaterThan(1);
    await page.getByTestId('preview-parts-sms').filter({ hasText: `Parts: ${sms.parts}` }).waitFor();
    expect(await page.getByTestId('preview-cost-sms').textContent()).toBe(`Cost: ${sms.cost}`);
    expect(await page.locator('[data-preview-channel="viber"]').textContent()).toContain('(fallback)');
  });

  it('sends a notification from the page and watches its messages reach DELIVERED', async () => {
    await page.goto(`${base}/templates/${templateId}`);
    await page.getByRole('button', { name: 'Send with this template' }).click();
    await page.getByRole('heading', { name: 'Send a notification' }).waitFor();
    expect(await page.getByTestId('send-template').inputValue()).toContain(templateName);
    await page.getByTestId('send-recipients').fill(`${phones[0]}, name=Ann, crm-${run}-1\n${phones[1]}, name=Bob\n\n${phones[0]}, name=Ann, crm-${run}-1`);
    expect(await page.getByTestId('recipient-count').textContent()).toBe('2 recipients');
    expect(await page.getByTestId('missing-variables').textContent()).toBe('Still without a value: order, track');
    await page.getByLabel('variable order').fill('A-1');
    await page.getByLabel('variable track').fill('T-9');
    await page.getByTestId('missing-variables').waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Send to 2' }).click();

    await page.getByRole('heading', { name: 'Sent: the task and its messages' }).waitFor();
    const messages = page.getByTestId('sent-messages');
    for (const p of phones) await messages.locator(`tr[data-recipient="${p}"][data-channel="sms"][data-status="DELIVERED"]`).waitFor({ timeout: 60_000 });
    await page.locator('[data-testid="sent-task"][data-status="completed"]').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('sent-task').locator('[data-count="DELIVERED"]').textContent()).toBe('DELIVERED 2');
    const taskName = await page.getByTestId('sent-task').locator('p').first().textContent();
    const tasks = await stack.admin().get(`/api/v1/tasks?name=${encodeURIComponent(taskName ?? '')}`).expect(200);
    expect(tasks.body.items[0]).toMatchObject({ templateId, status: 'completed' });
    const logged = await stack.admin().get(`/api/v1/messages?taskId=${tasks.body.items[0].id}&status=DELIVERED`).expect(200);
    expect(logged.body.items.map((m: { recipient: string; text: string }) => [m.recipient, m.text]).sort()).toEqual([
      [phones[0], 'Hi Ann, order A-1 is ready'],
      [phones[1], 'Hi Bob, order A-1 is ready'],
    ]);
  }, 120_000);

  it('finds the template by a part of its name and by its full id, with paging', async () => {
    await nav('Templates').click();
    const search = page.getByTestId('template-search');
    // The row is on the unfiltered list too: wait for the search's answer (its total) first.
    const onlyOne = () => page.getByTestId('templates-total').filter({ hasText: /^Found: 1$/ }).waitFor();
    await search.fill(run.toUpperCase());
    await onlyOne();
    await page.locator(`tr[data-template="${templateName}"]`).waitFor();
    await search.fill(`${run} nothing`);
    await page.getByTestId('templates-total').filter({ hasText: 'Nothing found' }).waitFor();
    await search.fill(templateId);
    await onlyOne();
    await page.locator(`tr[data-template="${templateName}"]`).waitFor();
    await search.fill(`${run} nothing`);
    await page.getByTestId('templates-total').filter({ hasText: 'Nothing found' }).waitFor();
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.locator(`tr[data-template="${templateName}"]`).waitFor();

    // Paging: 21 templates of one prefix are two pages of 20.
    const prefix = `Paged ${run}`;
    for (let i = 0; i < 21; i++) {
      await stack.admin().post('/api/v1/templates').send({ name: `${prefix} ${String(i).padStart(2, '0')}`, channels: [{ channel: 'sms', sender: smsSender, text: 'Hi' }] }).expect(201);
    }
    await search.fill(prefix);
    await page.getByTestId('templates-total').filter({ hasText: 'Found: 21' }).waitFor();
    expect(await page.getByTestId('templates').locator('tbody tr').count()).toBe(20);
    await page.getByRole('button', { name: '2', exact: true }).click();
    await page.getByTestId('templates').locator('tbody tr').nth(1).waitFor({ state: 'detached' });
    expect(await page.getByTestId('templates').locator('tbody tr').count()).toBe(1);
    // Newest first: the first one made is alone on page 2.
    expect(await page.getByTestId('templates').locator('tbody tr').getAttribute('data-template')).toBe(`${prefix} 00`);
  });

  it('explains the 409 when a task still uses the template, and deletes it once none does', async () => {
    const sender = await approvedSender(stack, 'sms');
    const created = await stack
      .admin()
      .post('/api/v1/templates')
      .send({ name: `To delete ${run}`, channels: [{ channel: 'sms', sender, text: 'Hi {name}' }] })
      .expect(201);
    const id = created.body.id as string;
    const file = await fillTaskFile(await downloadTaskFile(stack, 'universal', id), [{ phone: '+79990001110', 'var:name': 'Ann' }]);
    const task = await uploadTask(stack, file, { name: `Uses ${run}`, type: 'universal', templateId: id }).expect(201);

    await page.goto(`${base}/templates/${id}`);
    await page.getByTestId('template-id').filter({ hasText: id }).waitFor();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    const conflict = page.getByTestId('delete-conflict');
    await conflict.waitFor();
    expect(await conflict.textContent()).toContain('A task that has not finished');
    expect(await conflict.getByRole('link').textContent()).toBe(`Open task ${task.body.id}`);
    await conflict.getByRole('button', { name: 'Close' }).click();

    await stack.admin().delete(`/api/v1/tasks/${task.body.id}`).expect((res) => expect(res.status).toBeLessThan(300));
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('heading', { name: 'Templates' }).waitFor();
    await stack.admin().get(`/api/v1/templates/${id}`).expect(404);
  });

  it("shows the dashboard's messages per day by status and cost per channel as the API counts them", async () => {
    const [answer] = await Promise.all([page.waitForResponse((r) => r.url().includes('/api/v1/messages/stats')), nav('Dashboard').click()]);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    const query = new URL(answer.url()).search;
    const fromPage = (await answer.json()) as { days: { day: string; total: number; counts: Record<string, number> }[]; channels: { channel: string; messages: number; cost: number }[]; total: { messages: number; cost: number } };
    // The page asked for the last 7 days in its zone; the API counts the same when asked directly.
    const params = new URLSearchParams(query);
    expect(params.get('timezone')).toBe('Europe/Moscow');
    expect(Date.parse(params.get('to')!) - Date.parse(params.get('from')!)).toBe(7 * 86_400_000);
    const direct = await stack.admin().get(`/api/v1/messages/stats${query}`).expect(200);
    const today = new Date(Date.now() + 3 * 3_600_000).toISOString().slice(0, 10);
    const todayCounts = direct.body.days.find((d: { day: string }) => d.day === today);
    expect(todayCounts.counts.DELIVERED).toBeGreaterThanOrEqual(2);
    expect(direct.body.total.messages).toBeGreaterThanOrEqual(fromPage.total.messages);
    // The aggregate agrees with the message log itself for the same period.
    const logTotal = async (filter: string) => (await stack.admin().get(`/api/v1/messages?from=${encodeURIComponent(params.get('from')!)}&to=${encodeURIComponent(params.get('to')!)}&withTotal=true&pageSize=1${filter}`).expect(200)).body.total as number;
    const sumOf = (status: string) => direct.body.days.reduce((a: number, d: { counts: Record<string, number> }) => a + (d.counts[status] ?? 0), 0);
    expect(await logTotal('&status=DELIVERED')).toBe(sumOf('DELIVERED'));
    expect(await logTotal('')).toBe(direct.body.total.messages);
    expect(await logTotal('&channel=sms')).toBe(direct.body.channels.find((c: { channel: string }) => c.channel === 'sms').messages);

    await page.getByTestId('total-messages').filter({ hasText: String(fromPage.total.messages) }).waitFor();
    expect(await page.getByTestId('total-cost').textContent()).toBe(String(fromPage.total.cost));
    const bar = page.getByTestId('day-chart').locator(`[data-day="${today}"]`);
    expect(Number(await bar.getAttribute('data-total'))).toBe(fromPage.days.find((d) => d.day === today)!.total);
    expect(await page.getByTestId('day-chart').locator('[data-day]').count()).toBe(7);
    const sms = page.getByTestId('channel-costs').locator('tr[data-channel="sms"]');
    const smsApi = fromPage.channels.find((c) => c.channel === 'sms')!;
    expect([await sms.getAttribute('data-messages'), await sms.getAttribute('data-cost')]).toEqual([String(smsApi.messages), String(smsApi.cost)]);
    expect(smsApi.cost).toBeGreaterThan(0);
    // The period is bounded.
    const long = await stack.admin().get('/api/v1/messages/stats?from=2026-01-01T00:00:00Z&to=2026-06-01T00:00:00Z').expect(400);
    expect(JSON.stringify(long.body)).toContain('at most 92 days');
  });

  it('shows an operator key no admin action: no approve, reject, enable or disable', async () => {
    await stack.admin().post('/api/v1/senders').send({ name: `Q${run.slice(-8)}`.toUpperCase(), channel: 'sms' }).expect(201);
    const other = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
    try {
      const tab = await other.newPage();
      tab.setDefaultTimeout(20_000);
      await tab.goto(`${base}/senders`);
      await tab.getByLabel('API key').fill(stack.operatorKey);
      await tab.getByRole('button', { name: 'Sign in' }).click();
      await tab.getByRole('heading', { name: 'Senders and channels' }).waitFor();
      expect(await tab.getByTestId('role').textContent()).toBe('Operator');
      await tab.getByTestId('channels').locator('tr[data-channel="sms"]').waitFor();
      await tab.getByTestId('operator-note').waitFor();
      expect(await tab.getByRole('button', { name: /^(Approve|Reject|Revoke|Enable|Disable)$/ }).count()).toBe(0);
      // An operator still requests senders and sees them pending.
      await tab.getByRole('button', { name: 'Request', exact: true }).waitFor();
      await tab.getByRole('combobox', { name: 'Status' }).click();
      await tab.getByRole('option', { name: 'Pending' }).click();
      await tab.getByTestId('senders').locator('tr[data-status="pending"]').first().waitFor();
      expect(await tab.getByTestId('senders').getByRole('button').count()).toBe(0);
      // The other phase 2 pages are there for an operator too, in Russian as well.
      await tab.getByText('RU', { exact: true }).click();
      await tab.getByRole('heading', { name: 'Отправители и каналы' }).waitFor();
      await tab.getByRole('navigation').getByRole('link', { name: 'Шаблоны' }).click();
      await tab.getByRole('heading', { name: 'Шаблоны' }).waitFor();
    } finally {
      await other.close();
    }
  });
});
