import ExcelJS from 'exceljs';
import { randomUUID } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { foldTaskCountChanges } from '../../db/tasks';
import { approvedSender, eventually, smsTemplate, startStack, type TestStack } from '../support/harness';
import { binary, downloadTaskFile, fillTaskFile, sheetRows, uploadTask, workbookOf } from '../support/task-files';

/**
 * Campaigns from Excel, as an operator makes them: download the task file, fill it, upload it
 * with a time limiter, start it, and read what happened.
 */
let stack: TestStack;
const senders = { sms: '', viber: '', whatsapp: '' };
beforeAll(async () => {
  stack = await startStack({ worker: true, env: { SUPERVISE_SECONDS: '1', TASK_UPLOAD_MAX_MB: '3' } });
  senders.sms = await approvedSender(stack, 'sms');
  senders.viber = await approvedSender(stack, 'viber');
  senders.whatsapp = await approvedSender(stack, 'whatsapp');
  await stack.admin().post('/api/v1/channels/chat/enable').expect(200);
});
afterAll(async () => {
  await stack.close();
});

const task = async (id: string) => (await stack.admin().get(`/api/v1/tasks/${id}`).expect(200)).body;
const history = async (id: string) => (await stack.admin().get(`/api/v1/tasks/${id}/history`).expect(200)).body;
async function messagesOf(taskId: string) {
  const { rows } = await stack.deps.pool.query(
    'select channel, recipient, status, sender, text, external_id, payload from messages where task_id = $1 order by seq, channel_index',
    [taskId],
  );
  return rows;
}
async function tasksStored(): Promise<{ tasks: number; messages: number }> {
  const { rows } = await stack.deps.pool.query('select (select count(*)::int from tasks) as tasks, (select count(*)::int from messages) as messages');
  return rows[0];
}
const finished = (t: { status: string; counts: Record<string, number> }) => ['completed', 'canceled', 'failed'].includes(t.status);

describe('every task type, round trip: download → fill → upload → start → sent → history', () => {
  const cases: Record<string, () => Promise<{ rows: Record<string, string | undefined>[]; fields?: Record<string, string>; templateId?: string; expect: Record<string, number> }>> = {
    sms: async () => ({
      rows: [
        { phone: '+79950000010', text: 'Your order A-1 is ready', sender: senders.sms, externalId: 'crm-1' },
        // Tabs, line breaks and backslashes pass through the COPY the rows are written with.
        { phone: '8 995 000-00-20', text: 'Your order\tA-2\nis ready \\o/ \\N', sender: senders.sms },
      ],
      expect: { DELIVERED: 2 },
    }),
    sponsored: async () => ({
      rows: [{ phone: '+79950000030', text: 'Spring sale', imageUrl: 'https://example.com/i.png', buttonText: 'Shop', buttonUrl: 'https://example.com/s', sender: senders.viber }],
      expect: { DELIVERED: 1 },
    }),
    chat: async () => ({ rows: [{ messenger: 'telegram', chatId: '5550000', botId: 'acme_bot', text: 'Hello!' }], expect: { DELIVERED: 1 } }),
    'whatsapp-chat': async () => ({
      rows: [{ phone: '+79950000040', templateName: 'order_ready', templateData: '{"1":"Ann\\t\\"A\\\\B\\""}', language: 'en', sender: senders.whatsapp }],
      expect: { DELIVERED: 1 },
    }),
    universal: async () => {
      const templateId = await smsTemplate(stack);
      return {
        templateId,
        fields: { templateId },
        rows: [
          { phone: '+79950000050', 'var:name': 'Ann', 'var:order': 'A-1' },
          { phone: '+79950000060', 'var:name': 'Bob', 'var:order': 'B-2', templateId },
        ],
        expect: { DELIVERED: 2 },
      };
    },
    full: async () => ({
      rows: [
        // Delivered on Viber: the SMS fallback is not needed.
        { phone: '+79950000070', channel1: 'viber', channel2: 'sms', 'viber.sender': senders.viber, 'viber.text': 'Hi on Viber', 'sms.sender': senders.sms, 'sms.text': 'Hi by SMS' },
        // Viber refuses (sandbox digit 2: error at submit), SMS too: both tried, in order.
        { phone: '+79950000072', channel1: 'viber', channel2: 'sms', 'viber.sender': senders.viber, 'viber.text': 'Hi on Viber', 'sms.sender': senders.sms, 'sms.text': 'Hi by SMS' },
      ],
      expect: { DELIVERED: 1, CANCELED: 1, SKIPPED: 1, ERROR: 1 },
    }),
  };

  for (const [type, make] of Object.entries(cases)) {
    it(type, async () => {
      const c = await make();
      const file = await fillTaskFile(await downloadTaskFile(stack, type, c.templateId), c.rows);
      const name = `${type} campaign ${randomUUID().slice(0, 6)}`;
      const created = await uploadTask(stack, file, { name, type, lifetimeMinutes: '0.1', ...c.fields });
      // The answer's body in the failure message, should an upload be refused.
      expect([created.status, created.status === 201 ? null : created.body]).toEqual([201, null]);
      expect(created.body).toEqual({ id: expect.any(String), name, status: 'created', total: c.rows.length, rejected: 0, duplicates: 0 });
      const id = created.body.id;
      expect(await task(id)).toMatchObject({ status: 'created', type, fileName: 'recipients.xlsx' });
      await new Promise((r) => setTimeout(r, 500));
      expect((await messagesOf(id)).every((m) => m.status === 'CREATED')).toBe(true); // nothing goes before the start

      await stack.admin().post(`/api/v1/tasks/${id}/start`).expect(200, { status: 'in_progress' });
      await stack.admin().post(`/api/v1/tasks/${id}/start`).expect(409);
      const done = await eventually(() => task(id), finished, 60_000, 250);
      expect(done.status).toBe('completed');
      expect(done.counts).toEqual(c.expect);
      const timeline = await history(id);
      expect(timeline.events.map((e: { kind: string }) => e.kind)).toEqual(['created', 'started', 'completed']);
      expect(timeline.events[0].detail).toMatchObject({ source: 'file', rows: c.rows.length, accepted: c.rows.length, rejected: 0, by: { name: expect.stringContaining('bootstrap admin') } });
      expect(timeline.counts).toEqual(c.expect);
      const sent = await messagesOf(id);
      if (type === 'sms') {
        expect(sent.map((m) => [m.recipient, m.text, m.sender, m.external_id])).toEqual([
          ['+79950000010', 'Your order A-1 is ready', senders.sms, 'crm-1'],
          ['+79950000020', 'Your order\tA-2\nis ready \\o/ \\N', senders.sms, null],
        ]);
      }
      if (type === 'sms') {
        // The registration is the message row itself (no CREATED event rows for a million-row file).
        const { rows: ids } = await stack.deps.pool.query('select id from messages where task_id = $1 order by seq', [id]);
        const message = (await stack.admin().get(`/api/v1/messages/${ids[0].id}`).expect(200)).body;
        expect(message.events.map((e: { status: string; source: string }) => `${e.status}:${e.source}`)).toEqual(['CREATED:import', 'QUEUED:dispatcher', expect.stringMatching(/^SENT:/), expect.stringMatching(/^DELIVERED:/)]);
        expect(message.events[0].at).toBe(message.registeredAt);
      }
      if (type === 'universal') expect(sent.map((m) => m.text)).toEqual(['Hi Ann, order A-1 is ready', 'Hi Bob, order B-2 is ready']);
      if (type === 'chat') expect(sent[0]).toMatchObject({ channel: 'chat', recipient: '5550000', sender: 'acme_bot' });
      if (type === 'whatsapp-chat') expect(sent[0].payload).toMatchObject({ templateName: 'order_ready', templateData: { 1: 'Ann\t"A\\B"' }, language: 'en' });
    }, 90_000);
  }
});

it('reads cells as Excel keeps them: shared and rich text, hyperlinks, formulas, phones typed as numbers', async () => {
  const workbook = new ExcelJS.Workbook();
  const sheet = workbook.addWorksheet('Recipients');
  sheet.addRow(['phone', 'text', 'sender', 'externalId']);
  sheet.addRow([79950002010, { richText: [{ text: 'Rich ', font: { bold: true } }, { text: 'text' }] }, senders.sms, 'same']);
  sheet.addRow(['+79950002020', { text: 'Open the link', hyperlink: 'https://example.com/a' }, senders.sms, 'same']);
  sheet.addRow(['+79950002030', { formula: 'CONCATENATE("Sum ", 1+1)', result: 'Sum 2' }, senders.sms, 'same']);
  const file = Buffer.from(await workbook.xlsx.writeBuffer({ useSharedStrings: true } as never));
  const created = await uploadTask(stack, file, { name: `cells ${randomUUID().slice(0, 6)}`, type: 'sms' }).expect(201);
  expect(created.body).toMatchObject({ total: 3, rejected: 0 });
  expect((await messagesOf(created.body.id)).map((m) => [m.recipient, m.text, m.external_id])).toEqual([
    ['+79950002010', 'Rich text', 'same'],
    ['+79950002020', 'Open the link', 'same'],
    ['+79950002030', 'Sum 2', 'same'],
  ]);
});

it('a file with good and bad rows: only the good ones are sent, errors.xlsx lists exactly the bad ones', async () => {
  const file = await fillTaskFile(await downloadTaskFile(stack, 'sms'), [
    { phone: '+79950001010', text: 'good 1', sender: senders.sms },
    { phone: 'not a phone', text: 'bad phone', sender: senders.sms },
    { phone: '+79950001020', text: 'good 2', sender: senders.sms },
    { phone: '+79950001030', text: '', sender: senders.sms },
    { phone: '+79950001040', text: 'unknown sender', sender: 'NOBODY' },
    { phone: '+79950001010', text: 'good 1 again', sender: senders.sms },
    { phone: '+79950001050', text: 'good 3', sender: senders.sms },
  ]);
  const created = await uploadTask(stack, file, { name: `mixed ${randomUUID().slice(0, 6)}`, type: 'sms' }).expect(201);
  expect(created.body).toMatchObject({ total: 3, rejected: 3, duplicates: 1 });
  const errors = await stack.admin().get(`/api/v1/tasks/${created.body.id}/errors.xlsx`).buffer(true).parse(binary).expect(200);
  expect(errors.headers['content-type']).toContain('spreadsheetml');
  const rows = await sheetRows(errors.body);
  expect(rows[0]).toEqual(['Row', 'Column', 'Value', 'Reason']);
  expect(rows.slice(1).map((r) => r.slice(0, 3))).toEqual([
    ['3', 'phone', 'not a phone'],
    ['5', 'text', ''],
    ['6', 'sender', 'NOBODY'],
  ]);
  expect(rows[2]![3]).toBe('required: the cell is empty');
  expect(rows[3]![3]).toContain('not approved');

  await stack.admin().post(`/api/v1/tasks/${created.body.id}/start`).expect(200);
  await eventually(() => task(created.body.id), (t) => t.status === 'completed', 30_000, 250);
  expect((await messagesOf(created.body.id)).map((m) => [m.recipient, m.text, m.status])).toEqual([
    ['+79950001010', 'good 1', 'DELIVERED'],
    ['+79950001020', 'good 2', 'DELIVERED'],
    ['+79950001050', 'good 3', 'DELIVERED'],
  ]);
}, 60_000);

describe('a broken file gets a precise answer, and nothing is stored', () => {
  const broken: [string, () => Promise<Buffer>, number, RegExp][] = [
    ['a CSV renamed to .xlsx', async () => Buffer.from('phone,text,sender\n+79950000010,hi,ACME\n'), 400, /CSV/],
    ['an Excel 97–2003 .xls', async () => Buffer.concat([Buffer.from('d0cf11e0a1b11ae1', 'hex'), Buffer.alloc(4096)]), 400, /\.xls/],
    ['random bytes', async () => Buffer.from(Array.from({ length: 2000 }, (_, i) => (i * 7919) % 256)), 400, /xlsx|workbook/i],
    ['an empty file', async () => Buffer.alloc(0), 400, /empty/i],
    ['an empty worksheet', async () => workbookOf([]), 422, /empty/i],
    ['a header and no rows', async () => workbookOf([['phone', 'text', 'sender', 'externalId']]), 422, /no rows/],
    ['required columns missing', async () => workbookOf([['phone', 'message'], ['+79950000010', 'hi']]), 422, /text, sender/],
    ['a zip bomb', zipBomb, 422, /unpack|GB|MB/],
  ];
  for (const [what, make, status, message] of broken) {
    it(what, async () => {
      const before = await tasksStored();
      const res = await uploadTask(stack, await make(), { name: `broken ${what}`, type: 'sms' });
      expect(res.status).toBe(status);
      expect(res.body.error.message).toMatch(message);
      expect(await tasksStored()).toEqual(before);
    });
  }

  it('a file over TASK_UPLOAD_MAX_MB: 413', async () => {
    const before = await tasksStored();
    const res = await uploadTask(stack, Buffer.alloc(4 * 1024 * 1024, 1), { name: 'too big', type: 'sms' });
    expect(res.status).toBe(413);
    expect(res.body.error.message).toMatch(/larger than 3 MB/);
    expect(await tasksStored()).toEqual(before);
  });

  it('bad fields name the field', async () => {
    const file = await fillTaskFile(await downloadTaskFile(stack, 'sms'), [{ phone: '+79950000010', text: 'hi', sender: senders.sms }]);
    const cases: [Record<string, string>, number, string][] = [
      [{ name: 'x', type: 'fax' }, 400, 'type'],
      [{ type: 'sms' }, 400, 'name'],
      [{ name: 'x', type: 'sms', sendWindows: '[{"from":"9"}' }, 400, 'sendWindows'],
      [{ name: 'x', type: 'sms', sendWindows: '[{"from":"09:00","to":"09:00"}]' }, 422, 'sendWindows.0'],
      [{ name: 'x', type: 'sms', timezone: 'Mars/Olympus' }, 422, 'timezone'],
      [{ name: 'x', type: 'sms', startAt: 'tomorrow' }, 400, 'startAt'],
      [{ name: 'x\u0000', type: 'sms' }, 400, 'name'],
      [{ name: 'x', type: 'universal', templateId: randomUUID() }, 422, 'templateId'],
    ];
    const before = await tasksStored();
    for (const [fields, status, path] of cases) {
      const res = await uploadTask(stack, file, fields);
      expect([fields, res.status]).toEqual([fields, status]);
      expect(res.body.error.details.map((d: { path: string }) => d.path).join(' ')).toContain(path);
    }
    await stack.admin().post('/api/v1/tasks').send({ name: 'json' }).expect(400);
    expect(await tasksStored()).toEqual(before);
  });
});

describe('lifecycle: list, edit, replace, delete', () => {
  it('lists by name, period and category, newest first, with counts and the Temporal link', async () => {
    const tag = randomUUID().slice(0, 8);
    const file = await fillTaskFile(await downloadTaskFile(stack, 'sms'), [{ phone: '+79950002010', text: 'hi', sender: senders.sms }]);
    const from = new Date().toISOString();
    const first = (await uploadTask(stack, file, { name: `Black Friday ${tag} A`, type: 'sms' }).expect(201)).body.id;
    const second = (await uploadTask(stack, file, { name: `black friday ${tag} B`, type: 'sms' }).expect(201)).body.id;
    await stack.admin().post(`/api/v1/tasks/${first}/start`).expect(200);
    await eventually(() => task(first), (t) => t.status === 'completed', 30_000, 250);
    const list = async (query: string) => (await stack.admin().get(`/api/v1/tasks?${query}`).expect(200)).body;
    const byName = await list(`name=FRIDAY%20${tag}`);
    expect(byName.items.map((t: { id: string }) => t.id)).toEqual([second, first]);
    expect(byName.total).toBe(2);
    expect(byName.items[1]).toMatchObject({ status: 'completed', counts: { DELIVERED: 1 }, temporalUiUrl: expect.stringContaining(`task-${first}`) });
    expect((await list(`name=${tag}&category=created`)).items.map((t: { id: string }) => t.id)).toEqual([second]);
    expect((await list(`name=${tag}&category=completed`)).items.map((t: { id: string }) => t.id)).toEqual([first]);
    expect((await list(`name=${tag}&createdFrom=${encodeURIComponent(from)}&pageSize=1`)).items).toHaveLength(1);
    expect((await list(`name=${tag}&createdTo=${encodeURIComponent(from)}`)).total).toBe(0);
    await stack.admin().get('/api/v1/tasks?category=done').expect(400);
  }, 60_000);

  it('edits a running campaign’s windows (it follows them at once), refuses startAt once started, replaces the file while created', async () => {
    const file = (n: number, prefix: string) =>
      downloadTaskFile(stack, 'sms').then((f) => fillTaskFile(f, Array.from({ length: n }, (_, i) => ({ phone: `+7995${prefix}${String(i).padStart(3, '0')}0`, text: 'hi', sender: senders.sms }))));
    const first = await uploadTask(stack, await file(2, '300'), { name: `edit ${randomUUID().slice(0, 6)}`, type: 'sms' }).expect(201);
    expect(first.body.total).toBe(2);
    const id = first.body.id;
    // While created: the file can be replaced, the start moved.
    const replaced = await stack.admin().patch(`/api/v1/tasks/${id}`).field('name', 'renamed').attach('file', await file(3, '301'), 'second.xlsx').expect(200);
    expect(replaced.body).toMatchObject({ name: 'renamed', total: 3, fileName: 'second.xlsx', counts: { CREATED: 3 } });
    // Windows closed for the next hour: started, it waits.
    const closed = new Date(Date.now() + 3600_000);
    const hhmm = (d: Date) => d.toISOString().slice(11, 16);
    await stack.admin().patch(`/api/v1/tasks/${id}`).send({ sendWindows: [{ from: hhmm(closed), to: hhmm(new Date(closed.getTime() + 60_000)) }], timezone: 'UTC' }).expect(200);
    await stack.admin().post(`/api/v1/tasks/${id}/start`).expect(200);
    await eventually(() => task(id), (t) => t.counts.DELAYED === 3, 10_000, 200);
    await stack.admin().patch(`/api/v1/tasks/${id}`).send({ startAt: new Date().toISOString() }).expect(409);
    await stack.admin().patch(`/api/v1/tasks/${id}`).attach('file', await file(1, '302'), 'third.xlsx').expect(409);
    // Any time: the windows open now, and the running campaign sends.
    await stack.admin().patch(`/api/v1/tasks/${id}`).send({ sendWindows: [] }).expect(200);
    const done = await eventually(() => task(id), (t) => t.status === 'completed', 30_000, 250);
    expect(done.counts).toEqual({ DELIVERED: 3 });
    const kinds = (await history(id)).events.map((e: { kind: string }) => e.kind);
    expect(kinds).toEqual(['created', 'file_replaced', 'edited', 'edited', 'started', 'waiting_for_window', 'edited', 'completed']);
  }, 60_000);

  it('deletes a running task: canceled first, its sent messages stay in the message log', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => ({ phone: `+79953${String(i).padStart(5, '0')}0`, text: 'bulk', sender: senders.sms }));
    const id = (await uploadTask(stack, await fillTaskFile(await downloadTaskFile(stack, 'sms'), rows), { name: `doomed ${randomUUID().slice(0, 6)}`, type: 'sms' }).expect(201)).body.id;
    await stack.admin().post(`/api/v1/tasks/${id}/start`).expect(200);
    const delivered = await eventually(() => messagesOf(id), (ms) => ms.some((m) => m.status === 'DELIVERED'), 20_000, 100);
    expect((await stack.admin().delete(`/api/v1/tasks/${id}`).expect(200)).body).toEqual({ id, status: 'canceled', deleted: true });
    await stack.admin().get(`/api/v1/tasks/${id}`).expect(404);
    expect((await stack.admin().get(`/api/v1/tasks?name=doomed`).expect(200)).body.items.map((t: { id: string }) => t.id)).not.toContain(id);
    const { rows: kept } = await stack.deps.pool.query(`select id from messages where task_id = $1 and status = 'DELIVERED' limit 1`, [id]);
    expect(kept).toHaveLength(1);
    expect(delivered.length).toBe(3000);
    const message = (await stack.admin().get(`/api/v1/messages/${kept[0].id}`).expect(200)).body;
    expect(message.status).toBe('DELIVERED');
    await eventually(
      () => stack.deps.pool.query(`select count(*)::int as n from messages where task_id = $1 and status in ('CREATED', 'QUEUED', 'PAUSED', 'DELAYED')`, [id]),
      (r) => r.rows[0].n === 0,
      10_000,
      200,
    );
  }, 60_000);
});

describe('progress, durability and counters', () => {
  async function bigFile(n: number, prefix: string): Promise<Buffer> {
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('Recipients');
    sheet.addRow(['phone', 'text', 'sender', 'externalId']);
    for (let i = 0; i < n; i++) sheet.addRow([`+7995${prefix}${String(i).padStart(5, '0')}0`, `message ${i}`, senders.sms, `crm-${i}`]);
    return Buffer.from(await workbook.xlsx.writeBuffer());
  }

  it('a large upload reports its progress while it runs', async () => {
    const uploadId = randomUUID();
    const file = await bigFile(40_000, '4');
    const seen: { state: string; rowsRead: number }[] = [];
    let uploading = true;
    const polling = (async () => {
      while (uploading) {
        const res = await stack.admin().get(`/api/v1/uploads/${uploadId}`);
        if (res.status === 200) seen.push(res.body);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const uploadStarted = Date.now();
    const created = await uploadTask(stack, file, { name: 'big one', type: 'sms' }).set('X-Upload-Id', uploadId).expect(201);
    uploading = false;
    await polling;
    expect(seen.some((s) => s.state === 'reading' && s.rowsRead > 0 && s.rowsRead < 40_000)).toBe(true);
    const final = (await stack.admin().get(`/api/v1/uploads/${uploadId}`).expect(200)).body;
    expect(final).toMatchObject({ state: 'done', rowsRead: 40_000, accepted: 40_000, rejected: 0, taskId: created.body.id });
    await stack.admin().get(`/api/v1/uploads/${randomUUID()}`).expect(404);
    // Stored in more than one COPY (each ends every 25,000 rows): every row is in the message log,
    // found by its task, its recipient and its channel (the keys' table the COPYs' triggers fill).
    const log = (await stack.admin().get(`/api/v1/messages?taskId=${created.body.id}&withTotal=true&pageSize=1`).expect(200)).body;
    expect(log.total).toBe(40_000);
    expect(log.items[0]).toMatchObject({ taskId: created.body.id, status: 'CREATED' });
    for (const i of [0, 24_999, 25_000, 39_999]) {
      const found = (await stack.admin().get(`/api/v1/messages?search=${encodeURIComponent(`+79954${String(i).padStart(5, '0')}0`)}&channel=sms`).expect(200)).body;
      expect(found.items.map((m: { externalId: string }) => m.externalId)).toEqual([`crm-${i}`]);
    }
    // The planner learns of the 40,000 new rows at once, not when autovacuum gets to the table.
    const analyzed = await eventually(
      async () => (await stack.deps.pool.query(`select last_analyze from pg_stat_user_tables where relname = 'messages'`)).rows[0]?.last_analyze as Date | null,
      (at) => at !== null && at !== undefined && at.getTime() >= uploadStarted - 1000,
      20_000,
      200,
    );
    expect(analyzed!.getTime()).toBeGreaterThanOrEqual(uploadStarted - 1000);
  }, 120_000);

  it('a crash mid-import (the database connection dies) leaves no half task', async () => {
    const uploadId = randomUUID();
    const before = await tasksStored();
    const file = await bigFile(40_000, '5');
    const uploading = uploadTask(stack, file, { name: 'crashes', type: 'sms' }).set('X-Upload-Id', uploadId).then((r) => r);
    await eventually(() => stack.admin().get(`/api/v1/uploads/${uploadId}`), (r) => r.status === 200 && r.body.rowsRead >= 5000, 60_000, 20);
    const admin = new PgClient({ connectionString: stack.config.databaseUrl });
    await admin.connect();
    // The importing connection: in its transaction, inside or between its COPYs of rows.
    const { rows: killed } = await admin.query(
      `select pg_terminate_backend(pid) from pg_stat_activity
       where datname = current_database() and pid <> pg_backend_pid()
         and (query like 'copy messages%' or query like '%insert into task_row_errors%')`,
    );
    expect(killed).toHaveLength(1);
    await admin.end();
    const res = await uploading;
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect((await stack.admin().get(`/api/v1/uploads/${uploadId}`).expect(200)).body.state).toBe('failed');
    expect(await tasksStored()).toEqual(before);
  }, 120_000);

  it('pause, resume and cancel of a large campaign answer at once while its dispatchers and receipts run', async () => {
    const created = await uploadTask(stack, await bigFile(30_000, '6'), { name: 'busy one', type: 'sms' }).expect(201);
    const id = created.body.id;
    await stack.admin().post(`/api/v1/tasks/${id}/start`).expect(200);
    const busy = (t: { counts: Record<string, number> }) => (t.counts.DELIVERED ?? 0) > 1000;
    await eventually(() => task(id), busy, 60_000, 100);
    for (const action of ['pause', 'resume'] as const) {
      await stack.admin().post(`/api/v1/tasks/${id}/${action}`).expect(200);
      if (action === 'resume') await eventually(() => task(id), (t) => (t.counts.QUEUED ?? 0) + (t.counts.SENT ?? 0) > 0, 30_000, 50);
    }
    // Counter rows were a lock every status change of the task took: a cancel here deadlocked.
    await stack.admin().post(`/api/v1/tasks/${id}/cancel`).expect(200, { status: 'canceled' });
    const done = await eventually(() => task(id), (t) => (t.counts.CREATED ?? 0) + (t.counts.QUEUED ?? 0) + (t.counts.SENT ?? 0) === 0, 60_000, 250);
    expect((done.counts.CANCELED ?? 0) + (done.counts.DELIVERED ?? 0) + (done.counts.UNDELIVERED ?? 0) + (done.counts.PAUSED ?? 0)).toBeGreaterThan(0);
    expect(Object.values(done.counts as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(30_000);
  }, 180_000);

  it('counts come from counters that match the messages', async () => {
    const { rows } = await stack.deps.pool.query(
      `select coalesce(sum(abs(coalesce(c.n, 0) - coalesce(m.n, 0))), 0)::int as off
       from (select task_id, status, sum(n) as n from (select task_id, status, n from task_counts union all select task_id, status, n from task_count_changes) u group by 1, 2 having sum(n) <> 0) c
       full join (select task_id, status, count(*) as n from messages group by 1, 2) m using (task_id, status)`,
    );
    expect(rows[0].off).toBe(0);
    // Folded (as the worker's supervisor does), the counts are the same and the change log empty.
    while ((await foldTaskCountChanges(stack.deps.pool)) > 0);
    const { rows: after } = await stack.deps.pool.query(
      `select coalesce(sum(abs(coalesce(c.n, 0) - coalesce(m.n, 0))), 0)::int as off, (select count(*)::int from task_count_changes) as changes
       from (select task_id, status, n from task_counts where n <> 0) c
       full join (select task_id, status, count(*) as n from messages group by 1, 2) m using (task_id, status)`,
    );
    expect(after[0]).toEqual({ off: 0, changes: 0 });
  });
});

/** A zip whose one entry claims to unpack to 4 GB: only the central directory says so. */
async function zipBomb(): Promise<Buffer> {
  const JSZip = require('jszip');
  const zip = new JSZip();
  zip.file('[Content_Types].xml', '<Types/>');
  zip.file('xl/workbook.xml', '<workbook/>');
  zip.file('xl/worksheets/sheet1.xml', Buffer.alloc(20 * 1024 * 1024));
  const buffer: Buffer = await zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
  return buffer;
}

