import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import ExcelJS from 'exceljs';
import type { Channel } from '../../core/config';
import type { MessageStatus } from '../../core/status';
import { MessageExportCursor } from '../../db/message-log';
import { insertMessages } from '../../db/messages';
import { MAX_CELL_TEXT, writeMessageWorkbook } from '../../api/services/message-export';
import { seedSmsCampaign } from '../../scripts/bench/seed-campaign';
import { ADMIN_KEY, as, startStack, type TestStack } from '../support/harness';
import { binary } from '../support/task-files';

/**
 * The message log and its export, as an operator uses them: filter, page through by cursor while
 * messages keep arriving, download the same selection as .xlsx and read it back in ExcelJS.
 * The test database is shared with other test files, so every query here is scoped to rows this
 * file made: a period in 2001, or a task of its own.
 */

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack.close();
});

const HEADERS = [
  'Message ID', 'Upload ID', 'Group ID', 'Send ID', 'Status', 'Status description', 'Channel', 'Sender', 'Recipient', 'Text',
  'Cost', 'Operator', 'Template ID', 'Template name', 'Variables', 'Parts', 'Email views', 'Email clicks', 'Short link',
  'Link clicks', 'Registered at', 'Sent at', 'Status at', 'Delayed start at', 'Delivery end at',
];

interface SeedRow {
  channel?: Channel;
  status?: MessageStatus;
  optional?: boolean;
  recipient?: string;
  registeredAt: string;
  text?: string;
  cost?: number;
  parts?: number;
  variables?: Record<string, string> | null;
  sentAt?: string;
  statusDescription?: string;
}

/** A task of its own and its messages, written with the project's bulk insert, then dated. */
async function seedTask(rows: SeedRow[]): Promise<{ taskId: string; ids: string[] }> {
  const taskId = randomUUID();
  await stack.deps.pool.query(`insert into tasks (id, name, type, status, workflow_id) values ($1, $2, 'api', 'completed', $3)`, [
    taskId,
    `log test ${taskId.slice(0, 6)}`,
    `test-${taskId}`,
  ]);
  const ids = rows.map(() => randomUUID());
  await insertMessages(
    stack.deps.pool,
    rows.map((r, i) => ({
      id: ids[i]!,
      taskId,
      groupId: randomUUID(),
      sendId: `${taskId}:${i}`,
      seq: i,
      channel: r.channel ?? 'sms',
      channelIndex: 0,
      optional: r.optional ?? false,
      status: r.status ?? 'DELIVERED',
      statusDescription: r.statusDescription ?? null,
      sender: 'ACME',
      recipient: r.recipient ?? `+7999${String(i).padStart(7, '0')}`,
      externalId: null,
      text: r.text ?? `message ${i}`,
      payload: null,
      variables: r.variables === undefined ? { name: 'Ann' } : r.variables,
      templateId: null,
      templateName: null,
      parts: r.parts ?? 1,
      cost: r.cost ?? 0.05,
      lifetimeSeconds: 60,
      shortLink: null,
      links: [],
    })),
    'test',
  );
  await stack.deps.pool.query(
    `update messages m set registered_at = r.registered_at, status_at = r.registered_at + interval '5 seconds', sent_at = r.sent_at
     from unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) as r(id, registered_at, sent_at) where m.id = r.id`,
    [ids, rows.map((r) => r.registeredAt), rows.map((r) => r.sentAt ?? null)],
  );
  return { taskId, ids };
}

const query = (params: Record<string, string | number | boolean | undefined>) =>
  new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined).map(([k, v]): [string, string] => [k, String(v)])).toString();

async function list(params: Record<string, string | number | boolean | undefined>) {
  return (await stack.admin().get(`/api/v1/messages?${query(params)}`).expect(200)).body;
}

/** Every page of a listing, following nextCursor. */
async function listAll(params: Record<string, string | number | boolean | undefined>, pageSize = 1000) {
  const items: any[] = [];
  let cursor: string | undefined;
  do {
    const page = await list({ ...params, pageSize, cursor });
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return items;
}

async function exportWorkbook(params: Record<string, string | number | boolean | undefined>) {
  const res = await stack.admin().get(`/api/v1/messages/export.xlsx?${query(params)}`).buffer(true).parse(binary).expect(200);
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(res.body as unknown as ExcelJS.Buffer);
  return { res, workbook };
}

/** A sheet's rows as arrays of cell values (row 1: the header). */
function sheetValues(sheet: ExcelJS.Worksheet): ExcelJS.CellValue[][] {
  const rows: ExcelJS.CellValue[][] = [];
  sheet.eachRow({ includeEmpty: true }, (row) => {
    rows.push(Array.from({ length: HEADERS.length }, (_, i) => row.getCell(i + 1).value ?? null));
  });
  return rows;
}

/** Wall-clock fields of an instant in a zone (as Intl sees it), as a Date whose UTC fields show them. */
function wallClock(iso: string, timeZone: string): Date {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
      .formatToParts(new Date(iso))
      .map((p) => [p.type, Number(p.value)]),
  );
  return new Date(Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!, new Date(iso).getUTCMilliseconds()));
}

describe('filters: each alone and combined, the list and the export agree', () => {
  // March 2001: no other test writes there. Rows are numbered in registration order.
  const PERIOD = { from: '2001-03-01T00:00:00Z', to: '2001-04-01T00:00:00Z' };
  const fixture: SeedRow[] = [
    /* 0 */ { channel: 'sms', status: 'CREATED', recipient: '+79990000100', registeredAt: '2001-02-28T23:59:59.999999Z' },
    /* 1 */ { channel: 'sms', status: 'DELIVERED', recipient: '+79990000001', registeredAt: '2001-03-01T00:00:00Z', sentAt: '2001-03-01T00:00:01Z' },
    /* 2 */ { channel: 'sms', status: 'UNDELIVERED', recipient: '+79990000002', optional: true, registeredAt: '2001-03-10T12:00:00.5Z', statusDescription: 'lifetime expired' },
    /* 3 */ { channel: 'email', status: 'DELIVERED', recipient: 'Ann.Smith@Example.com', registeredAt: '2001-03-15T08:30:00Z', cost: 0.0125, parts: 1 },
    /* 4 */ { channel: 'email', status: 'ERROR', recipient: 'viber.fan@example.com', optional: true, registeredAt: '2001-03-20T09:00:00Z' },
    /* 5 */ { channel: 'viber', status: 'READ', recipient: '+79990000005', registeredAt: '2001-03-24T22:59:59Z', cost: 0.35, parts: 2 },
    /* 6 */ { channel: 'viber', status: 'SKIPPED', recipient: '+79990000006', optional: true, registeredAt: '2001-03-25T12:00:00Z' },
    /* 7 */ { channel: 'chat', status: 'PENDING', recipient: 'chat_100%', registeredAt: '2001-03-26T00:00:00Z', variables: null },
    /* 8 */ { channel: 'chat', status: 'CANCELED', recipient: 'room-42', registeredAt: '2001-03-28T00:00:00Z' },
    /* 9 */ { channel: 'sms', status: 'PAUSED', recipient: '+79990000009', registeredAt: '2001-03-31T23:59:59.999999Z' },
    /* 10 */ { channel: 'sms', status: 'DELIVERED', recipient: '+79990000010', registeredAt: '2001-04-01T00:00:00Z' },
  ];
  let ids: string[] = [];
  let taskA = '';
  let taskB = '';
  beforeAll(async () => {
    const a = await seedTask(fixture.slice(0, 7));
    const b = await seedTask(fixture.slice(7));
    ids = [...a.ids, ...b.ids];
    taskA = a.taskId;
    taskB = b.taskId;
  });

  /** Expected rows by their fixture numbers, newest first. */
  const newestFirst = (numbers: number[]) => [...numbers].sort((x, y) => y - x).map((n) => ids[n]);

  const cases: [string, () => Record<string, string | boolean>, number[]][] = [
    ['the period alone: from inclusive, to exclusive (to the microsecond)', () => ({}), [1, 2, 3, 4, 5, 6, 7, 8, 9]],
    ['search: digits of a phone number', () => ({ search: '90000005' }), [5]],
    ['search: a whole phone number, + included', () => ({ search: '+79990000005' }), [5]],
    ['search: punctuation at the ends is part of the search', () => ({ search: '+9990000005' }), []],
    ['search: case-insensitive part of an address', () => ({ search: 'ann.SMITH@example' }), [3]],
    ['search: a domain in any case', () => ({ search: '@EXAMPLE.com' }), [3, 4]],
    ['search: a channel name finds its messages and recipients containing it', () => ({ search: 'Viber' }), [4, 5, 6]],
    ['search: % and _ are literal', () => ({ search: '_100%' }), [7]],
    ['search: nothing matches', () => ({ search: 'nobody@nowhere' }), []],
    ['channel', () => ({ channel: 'email' }), [3, 4]],
    ['status', () => ({ status: 'DELIVERED' }), [1, 3]],
    ['optional=true', () => ({ optional: true }), [2, 4, 6]],
    ['optional=false', () => ({ optional: false }), [1, 3, 5, 7, 8, 9]],
    ['taskId', () => ({ taskId: taskB }), [7, 8, 9]],
    ['channel + optional', () => ({ channel: 'sms', optional: false }), [1, 9]],
    ['status + channel', () => ({ status: 'DELIVERED', channel: 'email' }), [3]],
    ['search + status', () => ({ search: '+7999', status: 'READ' }), [5]],
    ['taskId + optional + channel', () => ({ taskId: taskA, optional: true, channel: 'viber' }), [6]],
    ['search + taskId that exclude each other', () => ({ search: 'room', taskId: taskA }), []],
  ];

  for (const [name, params, expected] of cases) {
    it(name, async () => {
      const filter = { ...PERIOD, ...params() };
      const items = await listAll(filter);
      expect(items.map((m) => m.id)).toEqual(newestFirst(expected));
      const { workbook } = await exportWorkbook(filter);
      const rows = sheetValues(workbook.getWorksheet('Messages')!);
      expect(rows[0]).toEqual(HEADERS);
      expect(rows.slice(1).map((r) => r[0])).toEqual(items.map((m) => m.id));
    });
  }

  it('period bounds to the second, given in any offset', async () => {
    const ids2 = async (from: string, to: string) => (await listAll({ from, to })).map((m) => m.id);
    // The same instants written with +03:00.
    expect(await ids2('2001-03-01T03:00:00+03:00', '2001-04-01T03:00:00+03:00')).toEqual(newestFirst([1, 2, 3, 4, 5, 6, 7, 8, 9]));
    // Row 2 was registered at 12:00:00.5: inside [12:00:00, 12:00:01), outside [12:00:01, …).
    expect(await ids2('2001-03-10T12:00:00Z', '2001-03-10T12:00:01Z')).toEqual([ids[2]]);
    expect(await ids2('2001-03-10T12:00:01Z', '2001-03-15T08:30:00Z')).toEqual([]);
    // A period ending where the next begins: each row in exactly one of them.
    const first = await ids2('2001-02-01T00:00:00Z', '2001-03-20T09:00:00Z');
    const second = await ids2('2001-03-20T09:00:00Z', '2001-05-01T00:00:00Z');
    expect([...second, ...first]).toEqual(newestFirst([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
  });

  it('every export column, in order, holds the value the list shows; dates are Excel dates in the requested zone', async () => {
    const items = await listAll({ ...PERIOD, taskId: taskA });
    // Moscow moved from +03:00 to +04:00 at 2001-03-25 02:00 local: rows 5 and 6 straddle it.
    const { res, workbook } = await exportWorkbook({ ...PERIOD, taskId: taskA, timezone: 'Europe/Moscow' });
    expect(res.headers['content-type']).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect(res.headers['content-disposition']).toBe('attachment; filename="messages-2001-03-01-2001-04-01.xlsx"');
    const sheet = workbook.getWorksheet('Messages')!;
    expect(sheet.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    expect(sheet.autoFilter).toBe('A1:Y1');
    const rows = sheetValues(sheet);
    expect(rows[0]).toEqual(HEADERS);
    expect(rows).toHaveLength(items.length + 1);
    const date = (iso: string | null) => (iso === null ? null : wallClock(iso, 'Europe/Moscow'));
    rows.slice(1).forEach((row, i) => {
      const m = items[i];
      expect(row).toEqual([
        m.id, m.uploadId, m.groupId, m.sendId, m.status, m.statusDescription, m.channel, m.sender, m.recipient, m.text,
        m.cost, m.operator, m.templateId, m.templateName, m.variables ? JSON.stringify(m.variables) : null, m.parts, m.emailViews,
        m.emailClicks, m.shortLink, m.linkClicks, date(m.registeredAt), date(m.sentAt), date(m.statusAt), date(m.delayedStartAt),
        date(m.deliveryEndAt),
      ]);
    });
    // Spelled out for two rows, either side of the clock change.
    const byId = new Map(rows.slice(1).map((r) => [r[0], r]));
    expect((byId.get(ids[5]) as ExcelJS.CellValue[])[20]).toEqual(new Date('2001-03-25T01:59:59Z')); // 22:59:59Z + 3 h
    expect((byId.get(ids[6]) as ExcelJS.CellValue[])[20]).toEqual(new Date('2001-03-25T16:00:00Z')); // 12:00Z + 4 h
    expect((byId.get(ids[3]) as ExcelJS.CellValue[])[10]).toBe(0.0125);
    expect((byId.get(ids[5]) as ExcelJS.CellValue[])[15]).toBe(2);
    expect(sheet.getRow(2).getCell(21).numFmt).toBe('yyyy-mm-dd hh:mm:ss');
  });

  it('the default time zone is UTC', async () => {
    const { workbook } = await exportWorkbook({ ...PERIOD, taskId: taskB });
    const rows = sheetValues(workbook.getWorksheet('Messages')!);
    expect(rows.slice(1).map((r) => r[20])).toEqual([new Date('2001-03-31T23:59:59.999Z'), new Date('2001-03-28T00:00:00Z'), new Date('2001-03-26T00:00:00Z')]);
  });

  it('withTotal counts every matching row, on any page', async () => {
    const first = await list({ ...PERIOD, pageSize: 2, withTotal: true });
    expect(first.total).toBe(9);
    expect(first.items).toHaveLength(2);
    const second = await list({ ...PERIOD, pageSize: 2, withTotal: true, cursor: first.nextCursor });
    expect(second.total).toBe(9);
    expect(second.items.map((m: { id: string }) => m.id)).toEqual(newestFirst([6, 7]));
    expect(await list({ ...PERIOD, pageSize: 2 })).not.toHaveProperty('total');
    expect((await list({ ...PERIOD, channel: 'chat', withTotal: true })).total).toBe(2);
  });

  it('a list item carries every field of GET /messages/:id except the events and short links', async () => {
    const [item] = (await list({ ...PERIOD, search: 'Ann.Smith' })).items;
    const single = (await stack.admin().get(`/api/v1/messages/${item.id}`).expect(200)).body;
    const { events, shortLinks, ...fields } = single;
    expect(item).toEqual(fields);
    expect(shortLinks).toEqual([]);
    // The registration (from the row) comes first, then the stored events.
    expect(events).toEqual([
      { status: 'CREATED', description: null, source: 'api', at: item.registeredAt },
      { status: 'DELIVERED', description: null, source: 'test', at: expect.any(String) },
    ]);
  });
});

describe('cursor pagination', () => {
  it('pages are stable while new messages arrive and old ones change status: every row once, in order', async () => {
    // 230 rows, 100 of them registered in one instant (a file imported in one transaction).
    const base = Date.now() - 3_600_000;
    const rows: SeedRow[] = Array.from({ length: 230 }, (_, i) => ({
      registeredAt: new Date(i < 100 ? base : base + (i - 99) * 1000).toISOString(),
      status: 'SENT',
    }));
    const { taskId, ids } = await seedTask(rows);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await list({ taskId, pageSize: 40, cursor });
      seen.push(...page.items.map((m: { id: string }) => m.id));
      cursor = page.nextCursor ?? undefined;
      pages += 1;
      // Between pages: new messages for the same task (registered now, so newer than every row
      // listed), and receipts changing rows already listed and rows still to come.
      await insertMessages(stack.deps.pool, [newMessage(taskId, 1000 + pages)], 'test');
      await stack.deps.pool.query(`update messages set status = 'DELIVERED', status_at = now() where id = any($1::uuid[])`, [[seen[0], ids[pages * 3]]]);
    } while (cursor);
    expect(pages).toBe(6);
    expect(new Set(seen).size).toBe(230);
    expect(seen).toHaveLength(230);
    // The order: newest registration first, ties broken by id, descending.
    const expected = rows
      .map((r, i) => ({ id: ids[i]!, at: Date.parse(r.registeredAt) }))
      .sort((x, y) => y.at - x.at || (x.id < y.id ? 1 : -1))
      .map((r) => r.id);
    expect(seen).toEqual(expected);
    // A new listing starts with the rows that arrived meanwhile.
    const fresh = await list({ taskId, pageSize: 10 });
    expect(fresh.items.slice(0, pages).every((m: { id: string }) => !ids.includes(m.id))).toBe(true);
  });

  it('a cursor keeps rows registered in the same microsecond apart by id', async () => {
    const at = '2001-06-01T10:00:00.123456Z';
    const { taskId, ids } = await seedTask(Array.from({ length: 7 }, () => ({ registeredAt: at })));
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await list({ taskId, pageSize: 3, cursor });
      pages.push(page.items.map((m: { id: string }) => m.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat()).toEqual([...ids].sort().reverse());
  });

  it('the last page has no nextCursor; an exact multiple of the page size ends without an empty page', async () => {
    const { taskId } = await seedTask(Array.from({ length: 4 }, (_, i) => ({ registeredAt: `2001-07-0${i + 1}T00:00:00Z` })));
    const first = await list({ taskId, pageSize: 2 });
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await list({ taskId, pageSize: 2, cursor: first.nextCursor });
    expect(second.items).toHaveLength(2);
    expect(second.nextCursor).toBeNull();
  });
});

function newMessage(taskId: string, n: number) {
  return {
    id: randomUUID(), taskId, groupId: randomUUID(), sendId: `${taskId}:new:${n}`, seq: 100_000 + n, channel: 'sms', channelIndex: 0,
    optional: false, status: 'CREATED' as const, statusDescription: null, sender: 'ACME', recipient: `+7999${String(n).padStart(7, '0')}`,
    externalId: null, text: 'new', payload: null, variables: null, templateId: null, templateName: null, parts: 1, cost: 0.05, lifetimeSeconds: 60, shortLink: null, links: [],
  };
}

describe('bad input: 400 naming the query field', () => {
  const cases: [string, string][] = [
    ['status=DONE', 'query.status'],
    ['search=ab', 'query.search'],
    ['channel=fax', 'query.channel'],
    ['optional=yes', 'query.optional'],
    ['taskId=42', 'query.taskId'],
    ['from=yesterday', 'query.from'],
    ['from=2026-11-01', 'query.from'],
    ['to=2026-11-01T10:00', 'query.to'],
    ['from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z', 'query.to'],
    ['pageSize=0', 'query.pageSize'],
    ['pageSize=1001', 'query.pageSize'],
    ['withTotal=1', 'query.withTotal'],
    ['cursor=not-a-cursor', 'query.cursor'],
    [`cursor=${Buffer.from(JSON.stringify({ registeredAt: 'x', id: 'y' })).toString('base64url')}`, 'query.cursor'],
    ['status=SENT&status=DELIVERED', 'query.status'],
    ['stauts=SENT', 'query.stauts'],
  ];
  for (const [params, path] of cases) {
    it(`GET /messages?${params.slice(0, 60)} → ${path}`, async () => {
      const res = await stack.admin().get(`/api/v1/messages?${params}`).expect(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    });
  }

  it('the export checks the same filters, the time zone, and refuses list-only parameters', async () => {
    for (const [params, path] of [
      ['status=DONE', 'query.status'],
      ['timezone=Mars/Base', 'query.timezone'],
      ['timezone=%2B03:00', 'query.timezone'],
      ['pageSize=10', 'query.pageSize'],
      ['from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z', 'query.to'],
    ]) {
      const res = await stack.admin().get(`/api/v1/messages/export.xlsx?${params}`).expect(400);
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    }
  });

  it('empty parameters, as a form sends them, are no filter', async () => {
    const { taskId } = await seedTask([{ registeredAt: '2001-08-01T00:00:00Z' }]);
    const page = await list({ taskId, search: '', channel: '', status: '', optional: '', from: '', to: '', cursor: '' });
    expect(page.items).toHaveLength(1);
  });

  it('the log needs a key; an operator key is enough', async () => {
    await as(stack, 'nope').get('/api/v1/messages').expect(401);
    await as(stack, 'nope').get('/api/v1/messages/export.xlsx').expect(401);
    await as(stack, stack.operatorKey).get('/api/v1/messages?pageSize=1').expect(200);
  });
});

describe('export', () => {
  it('without from and to, the period starts at the beginning of the current month in the export zone', async () => {
    const now = new Date();
    const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const { taskId, ids } = await seedTask([
      { registeredAt: new Date(monthStart.getTime() - 1000).toISOString() }, // last month
      { registeredAt: monthStart.toISOString() },
      { registeredAt: now.toISOString() },
    ]);
    const utc = sheetValues((await exportWorkbook({ taskId })).workbook.getWorksheet('Messages')!);
    expect(utc.slice(1).map((r) => r[0])).toEqual([ids[2], ids[1]]);
    // In Kiritimati (UTC+14) this month began 14 hours earlier, so the first row is in it too —
    // unless "now" is already the next month there; then the month began later still.
    const kiritimatiMonth = wallClock(now.toISOString(), 'Pacific/Kiritimati').getUTCMonth() === now.getUTCMonth();
    const { res, workbook } = await exportWorkbook({ taskId, timezone: 'Pacific/Kiritimati' });
    const rows = sheetValues(workbook.getWorksheet('Messages')!);
    expect(rows.slice(1).map((r) => r[0])).toEqual(kiritimatiMonth ? [ids[2], ids[1], ids[0]] : [ids[2]]);
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="messages-\d{4}-\d{2}-01-\d{4}-\d{2}-\d{2}\.xlsx"$/);
  });

  it('a text longer than a cell holds is cut to 32,767 characters and the file still opens', async () => {
    const html = `<p>${'Hello, world. '.repeat(3000)}</p>`; // 42,007 characters: an e-mail's HTML
    const { taskId } = await seedTask([{ registeredAt: '2001-09-01T00:00:00Z', channel: 'email', recipient: 'a@b.c', text: html }]);
    const { workbook } = await exportWorkbook({ taskId, from: '2001-01-01T00:00:00Z' });
    const text = workbook.getWorksheet('Messages')!.getRow(2).getCell(10).value as string;
    expect(text).toHaveLength(MAX_CELL_TEXT);
    expect(text.endsWith('…')).toBe(true);
    expect(html.startsWith(text.slice(0, -1))).toBe(true);
  });

  it('goes on in a second sheet, with its own header, when a sheet is full', async () => {
    const { taskId, ids } = await seedTask(Array.from({ length: 5 }, (_, i) => ({ registeredAt: `2001-10-0${i + 1}T00:00:00Z` })));
    const cursor = await MessageExportCursor.open(stack.deps.pool, { taskId }, 'UTC');
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = new Promise((resolve) => out.on('end', resolve));
    try {
      expect(await writeMessageWorkbook(out, cursor, { description: 'test', aborted: () => false, rowsPerSheet: 3 })).toBe(5);
    } finally {
      await cursor.close();
    }
    await ended;
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(Buffer.concat(chunks) as unknown as ExcelJS.Buffer);
    expect(workbook.worksheets.map((s) => s.name)).toEqual(['Messages', 'Messages 2']);
    const [first, second] = workbook.worksheets.map(sheetValues);
    expect(first![0]).toEqual(HEADERS);
    expect(second![0]).toEqual(HEADERS);
    expect([...first!.slice(1), ...second!.slice(1)].map((r) => r[0])).toEqual([...ids].reverse());
  });

  it('a client that goes away mid-download stops the query and frees its connection', async () => {
    const { taskId } = await seedSmsCampaign(stack.deps.pool, { recipients: 200_000, name: 'export disconnect' });
    const server = http.createServer(stack.app).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const exportSessions = async () =>
      (
        await stack.deps.pool.query<{ state: string; query: string }>(
          `select state, query from pg_stat_activity
           where datname = current_database() and pid <> pg_backend_pid() and state <> 'idle' and query ilike '%message_export%'`,
        )
      ).rows;
    try {
      const { port } = server.address() as AddressInfo;
      const request = http.get({ host: '127.0.0.1', port, path: `/api/v1/messages/export.xlsx?taskId=${taskId}`, headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
      const response = await new Promise<http.IncomingMessage>((resolve, reject) => request.once('response', resolve).once('error', reject));
      expect(response.statusCode).toBe(200);
      // Read a little, then stop reading: the export waits for us, its cursor open.
      let received = 0;
      await new Promise<void>((resolve) => {
        response.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > 64 * 1024) {
            response.pause();
            resolve();
          }
        });
      });
      const during = await exportSessions();
      expect(during.length).toBe(1);
      request.destroy();
      const after = await waitFor(exportSessions, (rows) => rows.length === 0, 3000);
      expect(after).toEqual([]);
      // The connection went back to the pool: a list answers at once.
      await list({ taskId, pageSize: 1 });
    } finally {
      server.close();
    }
  }, 60_000);
});

async function waitFor<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const until = Date.now() + timeoutMs;
  let value = await probe();
  while (!done(value) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    value = await probe();
  }
  return value;
}
