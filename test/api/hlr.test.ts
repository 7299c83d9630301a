import http from 'node:http';
import type { AddressInfo } from 'node:net';
import ExcelJS from 'exceljs';
import request from 'supertest';
import { as, eventually, startStack, type TestStack } from '../support/harness';
import { lookupAnswer, startHlrStub, type StubAnswer } from '../support/hlr-stub';
import { binary } from '../support/task-files';

/** Phone checks (HLR) through the HTTP API: the sandbox's outcomes, bad input and the 1,000
 * limit, the list's filters and cursor, the export read back with ExcelJS, and the HTTP provider
 * wired from the environment against a local stub. */

let stack: TestStack;
let operator: ReturnType<typeof as>;
/** Numbers of this run: +7 916 <run> <block> <nnn>, so each test filters to its own checks. */
const run = String(100 + Math.floor(Math.random() * 900));
const phone = (block: number, n: number) => `+7916${run}${block}${String(n).padStart(3, '0')}`;
const blockPart = (block: number) => `916${run}${block}`;

interface Check {
  id: string;
  phone: string;
  status: string;
  operator: string | null;
  country: string | null;
  ported: boolean | null;
  roaming: boolean | null;
  cost: number;
  provider: string;
  error: string | null;
  createdAt: string;
}

beforeAll(async () => {
  stack = await startStack({ env: { HLR_COST: '0.005' } });
  operator = as(stack, stack.operatorKey);
});
afterAll(async () => {
  await stack.close();
});

async function check(phones: string[]): Promise<Check[]> {
  const res = await operator.post('/api/v1/hlr').send({ phones });
  if (res.status !== 200) throw new Error(`POST /hlr: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.checks;
}

async function list(query: Record<string, string | number | boolean>) {
  const res = await operator.get('/api/v1/hlr').query(query);
  if (res.status !== 200) throw new Error(`GET /hlr: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { items: Check[]; nextCursor: string | null; total?: number };
}

/** Every page of a filtered list, following nextCursor. */
async function listAll(query: Record<string, string | number>): Promise<Check[]> {
  const items: Check[] = [];
  for (let cursor: string | null | undefined; cursor !== null; ) {
    const page = await list({ ...query, pageSize: 500, ...(cursor ? { cursor } : {}) });
    items.push(...page.items);
    cursor = page.nextCursor;
  }
  return items;
}

/** Newest first, ties by id descending: the order the list promises. */
const newestFirst = (a: Check, b: Check) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('POST /api/v1/hlr with the sandbox', () => {
  it('answers each number by its last digit (8 invalid, 9 absent, else active) with country, operator and cost, and stores each check', async () => {
    const checks = await check([phone(1, 8), phone(1, 9), phone(1, 7)]);
    expect(checks.map((c) => [c.phone, c.status])).toEqual([
      [phone(1, 8), 'invalid_number'],
      [phone(1, 9), 'absent_subscriber'],
      [phone(1, 7), 'active'],
    ]);
    for (const c of checks) {
      expect(c).toMatchObject({ country: 'RU', ported: false, roaming: false, cost: 0.005, provider: 'sandbox', error: null });
      expect(c.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(Date.now() - Date.parse(c.createdAt)).toBeLessThan(60_000);
    }
    expect(checks[0]!.operator).toBeNull(); // an unassigned number has no operator
    expect(checks[1]!.operator).toBe('MTS');
    expect(checks[2]!.operator).toBe('MTS');
    const stored = await list({ phone: blockPart(1) });
    expect(stored.items.map((c) => c.id).sort()).toEqual(checks.map((c) => c.id).sort());
    expect([...stored.items].sort((a, b) => a.phone.localeCompare(b.phone))).toEqual([...checks].sort((a, b) => a.phone.localeCompare(b.phone)));
    const { rows } = await stack.deps.pool.query('select created_by, raw from hlr_checks where id = $1', [checks[0]!.id]);
    expect(rows[0].raw).toEqual({ sandbox: true, lastDigit: '8' });
    const { rows: key } = await stack.deps.pool.query('select name from api_keys where id = $1', [rows[0].created_by]);
    expect(key[0].name).toMatch(/^operator /);
  });

  it('normalises numbers as sends do (national format with DEFAULT_PHONE_COUNTRY, spaces, dashes) and checks a number given twice once', async () => {
    const national = `8 (916) ${run}-1-0-01`;
    const checks = await check([national, phone(1, 1), ` ${phone(1, 2)} `, phone(1, 1)]);
    expect(checks.map((c) => c.phone)).toEqual([phone(1, 1), phone(1, 2)]);
  });

  it('refuses malformed bodies with 400 naming the field', async () => {
    const cases: [unknown, string][] = [
      [{}, 'phones'],
      [{ phones: 'not-a-list' }, 'phones'],
      [{ phones: [] }, 'phones'],
      [{ phones: [phone(1, 1), 79161234567] }, 'phones.1'],
      [{ phones: [phone(1, 1)], colour: 'red' }, 'colour'],
      [{ phones: ['1'.repeat(65)] }, 'phones.0'],
    ];
    for (const [body, path] of cases) {
      const res = await operator.post('/api/v1/hlr').send(body as object);
      expect(res.status).toBe(400);
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    }
  });

  it('refuses numbers that are not phone numbers with 422 naming each (phones.N), and checks none', async () => {
    const before = (await list({ phone: blockPart(2), withTotal: true })).total;
    const res = await operator.post('/api/v1/hlr').send({ phones: [phone(2, 1), 'call me', phone(2, 2), '+7916', '+999123456789'] });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([
      { path: 'phones.1', message: '"call me" is not a valid phone number' },
      { path: 'phones.3', message: '"+7916" is not a valid phone number' },
      { path: 'phones.4', message: '"+999123456789" is not a valid phone number' },
    ]);
    expect((await list({ phone: blockPart(2), withTotal: true })).total).toBe(before);
  });

  it('checks up to 1,000 numbers a call and refuses 1,001 with 413', async () => {
    const thousand = Array.from({ length: 1000 }, (_, i) => `+7917${run}${String(i).padStart(4, '0')}`);
    const started = Date.now();
    const checks = await check(thousand);
    const took = Date.now() - started;
    expect(checks).toHaveLength(1000);
    expect(checks.map((c) => c.phone)).toEqual(thousand);
    expect(checks.filter((c) => c.status === 'invalid_number')).toHaveLength(100);
    expect(checks.filter((c) => c.status === 'absent_subscriber')).toHaveLength(100);
    expect((await list({ phone: `+7917${run}`, withTotal: true, pageSize: 1 })).total).toBe(1000);
    process.stdout.write(`1,000 sandbox checks stored in ${took} ms\n`);

    const tooMany = await operator.post('/api/v1/hlr').send({ phones: [...thousand, phone(2, 3)] });
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.error).toMatchObject({ code: 'too_many_phones', details: [{ path: 'phones', message: 'at most 1000 items' }] });
  });

  it('is documented in OpenAPI with its filters and limits', async () => {
    const doc = (await request(stack.app).get('/api/v1/openapi.json').expect(200)).body;
    const names = (op: { parameters: { name: string }[] }) => op.parameters.map((p) => p.name);
    expect(doc.paths['/api/v1/hlr'].post.requestBody.content['application/json'].schema.properties.phones.type).toBe('array');
    expect(Object.keys(doc.paths['/api/v1/hlr'].post.responses)).toEqual(['200', '400', '413', '422']);
    expect(names(doc.paths['/api/v1/hlr'].get)).toEqual(['phone', 'from', 'to', 'pageSize', 'cursor', 'withTotal']);
    expect(names(doc.paths['/api/v1/hlr/export.xlsx'].get)).toEqual(['phone', 'from', 'to']);
  });

  it('needs an API key; an operator key suffices', async () => {
    expect((await request(stack.app).post('/api/v1/hlr').send({ phones: [phone(2, 4)] })).status).toBe(401);
    expect((await request(stack.app).get('/api/v1/hlr')).status).toBe(401);
    expect((await request(stack.app).get('/api/v1/hlr/export.xlsx')).status).toBe(401);
  });
});

describe('GET /api/v1/hlr filters', () => {
  /** Five checks of block 4, one call each, a few ms apart: distinct check times. */
  let checks: Check[];
  beforeAll(async () => {
    checks = [];
    for (let n = 0; n < 5; n++) {
      checks.push(...(await check([phone(4, n * 11)])));
      await sleep(5);
    }
  });
  const ids = (items: Check[]) => items.map((c) => c.id);
  const mine = (items: Check[]) => items.filter((c) => c.phone.includes(blockPart(4)));

  it('phone alone: any part of the number, or its start with +; spaces and dashes ignored', async () => {
    const newest = [...checks].reverse();
    expect(ids((await list({ phone: blockPart(4) })).items)).toEqual(ids(newest));
    expect(ids((await list({ phone: `+7${blockPart(4)}` })).items)).toEqual(ids(newest));
    expect(ids((await list({ phone: `${run}4044` })).items)).toEqual([checks[4]!.id]); // the middle and the end of +7916<run>4044
    expect(ids((await list({ phone: `916 ${run}-4 (033)` })).items)).toEqual([checks[3]!.id]);
    expect((await list({ phone: `+${blockPart(4)}` })).items).toEqual([]); // + anchors at the start: +916… is no number here
  });

  it('from alone is inclusive, to alone exclusive, and both bound a period', async () => {
    const at = checks.map((c) => c.createdAt);
    const fromThird = await listAll({ from: at[2]! });
    expect(fromThird.every((c) => c.createdAt >= at[2]!)).toBe(true);
    expect(ids(mine(fromThird))).toEqual(ids([checks[4]!, checks[3]!, checks[2]!]));

    const beforeThird = await listAll({ to: at[2]! });
    expect(beforeThird.every((c) => c.createdAt < at[2]!)).toBe(true);
    expect(ids(mine(beforeThird))).toEqual(ids([checks[1]!, checks[0]!]));

    const period = await listAll({ from: at[1]!, to: at[3]! });
    expect(period.every((c) => c.createdAt >= at[1]! && c.createdAt < at[3]!)).toBe(true);
    expect(ids(mine(period))).toEqual(ids([checks[2]!, checks[1]!]));
    expect(await listAll({ from: at[4]!, to: new Date(Date.parse(at[4]!) + 1).toISOString() })).toEqual([checks[4]]);
  });

  it('combines the phone part with the period', async () => {
    const at = checks.map((c) => c.createdAt);
    expect(ids((await list({ phone: blockPart(4), from: at[1]!, to: at[4]! })).items)).toEqual(ids([checks[3]!, checks[2]!, checks[1]!]));
    expect(ids((await list({ phone: `${run}4022`, from: at[1]! })).items)).toEqual([checks[2]!.id]);
    expect((await list({ phone: `${run}4022`, from: at[3]! })).items).toEqual([]);
    // Offsets other than Z name the same instant.
    const plus3 = new Date(Date.parse(at[2]!) + 3 * 3600_000).toISOString().replace('Z', '+03:00');
    expect(ids((await list({ phone: blockPart(4), to: plus3 })).items)).toEqual(ids([checks[1]!, checks[0]!]));
  });

  it('refuses bad filters with 400 naming the parameter', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ phone: 'abc' }, 'query.phone'],
      [{ phone: '+' }, 'query.phone'],
      [{ from: 'yesterday' }, 'query.from'],
      [{ to: '2026-13-01T00:00:00Z' }, 'query.to'],
      [{ from: '2026-11-02T00:00:00Z', to: '2026-11-01T00:00:00Z' }, 'query.to'],
      [{ from: '2026-11-01T00:00:00Z', to: '2026-11-01T00:00:00Z' }, 'query.to'],
      [{ pageSize: '0' }, 'query.pageSize'],
      [{ pageSize: '501' }, 'query.pageSize'],
      [{ cursor: 'not-a-cursor' }, 'query.cursor'],
      [{ cursor: Buffer.from('["2026-11-01T00:00:00Z","x"]').toString('base64url') }, 'query.cursor'],
      [{ withTotal: 'yes' }, 'query.withTotal'],
    ];
    for (const [query, path] of cases) {
      const res = await operator.get('/api/v1/hlr').query(query);
      expect([query, res.status]).toEqual([query, 400]);
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
      if (!('cursor' in query) && !('pageSize' in query) && !('withTotal' in query)) {
        expect((await operator.get('/api/v1/hlr/export.xlsx').query(query)).status).toBe(400);
      }
    }
  });
});

describe('GET /api/v1/hlr cursor', () => {
  it('pages newest first, stable while new checks arrive: no check repeated or skipped; total only when asked', async () => {
    const first = await check(Array.from({ length: 25 }, (_, n) => phone(5, n)));
    // Checks stored in the same millisecond (many lookups at once do that): the id breaks the tie,
    // here across page boundaries.
    await stack.deps.pool.query(`update hlr_checks set created_at = $2 where id = any($1::uuid[])`, [
      first.slice(5, 20).map((c) => c.id),
      first[20]!.createdAt,
    ]);
    const expected = (await Promise.all(first.map(async (c) => (await list({ phone: c.phone })).items[0]!))).sort(newestFirst);
    expect(new Set(expected.map((c) => c.createdAt)).size).toBeLessThan(25);
    const seen: Check[] = [];
    let page = await list({ phone: blockPart(5), pageSize: 7 });
    expect(page.total).toBeUndefined();
    let arrivals = 100;
    while (true) {
      seen.push(...page.items);
      if (!page.nextCursor) break;
      await check(Array.from({ length: 5 }, () => phone(5, arrivals++))); // new checks sort before page 1
      page = await list({ phone: blockPart(5), pageSize: 7, cursor: page.nextCursor });
    }
    expect(seen.map((c) => c.id)).toEqual(expected.map((c) => c.id));
    expect(seen).toEqual(expected);

    const fresh = await list({ phone: blockPart(5), pageSize: 10, withTotal: true });
    expect(fresh.total).toBe(25 + (arrivals - 100));
    expect(fresh.items.every((c) => Number(c.phone.slice(-3)) >= 100)).toBe(true); // the newest first
    const whole = await list({ phone: blockPart(5), pageSize: fresh.total! });
    expect(whole.items).toHaveLength(fresh.total!);
    expect(whole.nextCursor).toBeNull(); // exactly one page: no empty page after it
  });
});

describe('GET /api/v1/hlr/export.xlsx', () => {
  async function exportOf(query: Record<string, string>) {
    const res = await operator.get('/api/v1/hlr/export.xlsx').query(query).buffer(true).parse(binary).expect(200);
    expect(res.headers['content-type']).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect(res.headers['content-disposition']).toBe('attachment; filename="hlr-checks.xlsx"');
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(res.body as unknown as ExcelJS.Buffer);
    return workbook.worksheets[0]!;
  }
  const HEADER = ['Checked at (UTC)', 'Phone', 'Status', 'Operator', 'Country', 'Ported', 'Roaming', 'Cost', 'Provider', 'Error', 'Check ID'];

  /** A row read back as the API would show it. */
  function asCheck(row: ExcelJS.Row): Check {
    const cell = (i: number) => {
      const value = row.getCell(i).value;
      return value === undefined ? null : value;
    };
    return {
      createdAt: (cell(1) as Date).toISOString(),
      phone: cell(2) as string,
      status: cell(3) as string,
      operator: cell(4) as string | null,
      country: cell(5) as string | null,
      ported: cell(6) as boolean | null,
      roaming: cell(7) as boolean | null,
      cost: cell(8) as number,
      provider: cell(9) as string,
      error: cell(10) as string | null,
      id: cell(11) as string,
    };
  }

  it('has the list’s checks in its order, with a frozen, filterable header, real dates and numeric costs', async () => {
    await check(Array.from({ length: 12 }, (_, n) => phone(6, n)));
    await check([phone(6, 50), phone(6, 58), phone(6, 59)]);
    const listed = await listAll({ phone: blockPart(6) });
    expect(listed).toHaveLength(15);

    const sheet = await exportOf({ phone: blockPart(6) });
    expect((sheet.getRow(1).values as unknown[]).slice(1)).toEqual(HEADER);
    expect(sheet.rowCount).toBe(1 + listed.length);
    expect(sheet.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    expect(sheet.autoFilter).toBe('A1:K1');
    const rows = Array.from({ length: listed.length }, (_, i) => asCheck(sheet.getRow(i + 2)));
    expect(rows).toEqual(listed);
    const second = sheet.getRow(2);
    expect(second.getCell(1).type).toBe(ExcelJS.ValueType.Date);
    expect(second.getCell(1).numFmt).toBe('yyyy-mm-dd hh:mm:ss.000');
    expect(second.getCell(8).type).toBe(ExcelJS.ValueType.Number);
    expect(rows.map((r) => r.status)).toEqual(expect.arrayContaining(['invalid_number', 'absent_subscriber', 'active']));
  });

  it('takes the list’s period filter, with the same bounds', async () => {
    const listed = await listAll({ phone: blockPart(4) });
    const from = listed[3]!.createdAt;
    const to = listed[0]!.createdAt;
    const sheet = await exportOf({ phone: blockPart(4), from, to });
    const rows = Array.from({ length: sheet.rowCount - 1 }, (_, i) => asCheck(sheet.getRow(i + 2)));
    expect(rows).toEqual(await listAll({ phone: blockPart(4), from, to }));
    expect(rows.map((r) => r.id)).toEqual([listed[1]!.id, listed[2]!.id, listed[3]!.id]);
  });

  it('gives just the header when nothing matches', async () => {
    const sheet = await exportOf({ phone: `+1${run}000000` });
    expect(sheet.rowCount).toBe(1);
    expect((sheet.getRow(1).values as unknown[]).slice(1)).toEqual(HEADER);
  });

  it('reads batch by batch only as fast as the client takes the file, and stops reading when the client goes away', async () => {
    const prefix = `+7926${run}`;
    // Enough that the file (≈ 22 MB) outgrows what the kernel's socket buffers take from a client
    // that reads nothing (≈ 6 MB here).
    const seeded = 300_000;
    await stack.deps.pool.query(
      `insert into hlr_checks (id, phone, status, operator, country, ported, roaming, cost, provider, created_at)
       select gen_random_uuid(), $1 || lpad((i % 10000)::text, 4, '0'), 'active', 'MegaFon', 'RU', false, false, 0.005, 'sandbox',
              now() - i * interval '1 ms'
       from generate_series(1, $2) as i`,
      [prefix, seeded],
    );
    const batchReads: string[] = [];
    const query = stack.deps.pool.query.bind(stack.deps.pool);
    const spy = jest.spyOn(stack.deps.pool, 'query').mockImplementation(((text: unknown, ...rest: unknown[]) => {
      if (typeof text === 'string' && text.includes('from hlr_checks') && text.includes('limit')) batchReads.push(text);
      return (query as (...args: unknown[]) => unknown)(text, ...rest);
    }) as never);
    const server = stack.app.listen(0, '127.0.0.1');
    let download: http.ClientRequest | undefined;
    try {
      await new Promise((resolve) => server.once('listening', resolve));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/hlr/export.xlsx?phone=${encodeURIComponent(prefix)}`;
      const get = http.get(url, { headers: { Authorization: `Bearer ${stack.operatorKey}` } });
      download = get;
      const response = await new Promise<http.IncomingMessage>((resolve, reject) => get.once('response', resolve).once('error', reject));
      expect(response.statusCode).toBe(200);
      response.pause(); // a client that takes nothing more
      // Wait until the export stops reading (unchanged for 2 s): it is held, not merely slow.
      let readWhilePaused = -1;
      for (const until = Date.now() + 30_000; batchReads.length !== readWhilePaused && Date.now() < until; ) {
        readWhilePaused = batchReads.length;
        await sleep(2000);
      }
      // 300,000 rows are 60 batches; a stalled client holds the export once the socket is full.
      expect(readWhilePaused).toBeGreaterThanOrEqual(1);
      expect(readWhilePaused).toBeLessThan(seeded / 5000 / 2);
      get.destroy();
      await sleep(1000);
      expect(batchReads.length).toBeLessThanOrEqual(readWhilePaused + 1);
      process.stdout.write(`export to a stalled client: ${readWhilePaused} of ${seeded / 5000} batches read, ${batchReads.length} when it went away\n`);
    } finally {
      download?.destroy();
      spy.mockRestore();
      await new Promise((resolve) => server.close(resolve));
      await stack.deps.pool.query('delete from hlr_checks where phone like $1', [`${prefix}%`]);
    }
  });
});

describe('POST /api/v1/hlr with HLR_PROVIDER=http', () => {
  const credentials = { key: 'stub-key', secret: 'stub-secret' };
  let httpStack: TestStack;
  let stub: Awaited<ReturnType<typeof startHlrStub>>;
  const answers = new Map<string, StubAnswer>();

  beforeAll(async () => {
    stub = await startHlrStub(credentials, (msisdn) => answers.get(msisdn) ?? { status: 200, json: lookupAnswer(msisdn), delayMs: 50 });
    httpStack = await startStack({
      env: {
        HLR_PROVIDER: 'http',
        HLR_HTTP_URL: stub.url,
        HLR_HTTP_KEY: credentials.key,
        HLR_HTTP_SECRET: credentials.secret,
        // Long enough for a loaded machine's answers; the hanging lookup costs this once.
        HLR_HTTP_TIMEOUT_MS: '2000',
        HLR_CONCURRENCY: '3',
      },
    });
  });
  afterAll(async () => {
    await httpStack.close();
    await stub.close();
  });

  it('stores what the provider answered, a failure included, with at most HLR_CONCURRENCY lookups at once', async () => {
    const phones = Array.from({ length: 12 }, (_, n) => phone(7, n));
    answers.set(phones[0]!, { status: 200, json: lookupAnswer(phones[0]!, { connectivity_status: 'ABSENT', is_roaming: true, cost: '0.0120' }) });
    answers.set(phones[1]!, { status: 503, json: { errors: ['route IP1 unavailable'] } });
    answers.set(phones[2]!, 'hang');
    answers.set(phones[3]!, { status: 200, json: lookupAnswer(phones[3]!, { is_ported: true, ported_network_name: 'Tele2' }) });
    const res = await as(httpStack, httpStack.operatorKey).post('/api/v1/hlr').send({ phones }).expect(200);
    const checks: Check[] = res.body.checks;
    expect(checks.map((c) => c.phone)).toEqual(phones);
    expect(checks[0]).toMatchObject({ status: 'absent_subscriber', operator: 'MTS', country: 'RU', roaming: true, ported: false, cost: 0.012, provider: 'hlr-lookups' });
    expect(checks[1]).toMatchObject({ status: 'failed', operator: null, country: 'RU', ported: null, roaming: null, cost: 0, error: 'provider answered HTTP 503: route IP1 unavailable' });
    expect(checks[2]).toMatchObject({ status: 'failed', error: 'provider gave no answer within 2000 ms', country: 'RU' });
    expect(checks[3]).toMatchObject({ status: 'active', operator: 'Tele2', ported: true });
    expect(checks.slice(4).every((c) => c.status === 'active' && c.cost === 0.01)).toBe(true);
    expect(stub.load.maxInFlight).toBe(3);

    const listed = await as(httpStack, httpStack.operatorKey).get('/api/v1/hlr').query({ phone: blockPart(7), withTotal: 'true' }).expect(200);
    expect(listed.body.total).toBe(12);
    const failed = listed.body.items.find((c: Check) => c.phone === phones[1]);
    expect(failed).toEqual(checks[1]);
    const { rows } = await httpStack.deps.pool.query('select raw from hlr_checks where id = $1', [checks[0]!.id]);
    expect(rows[0].raw).toMatchObject({ connectivity_status: 'ABSENT', imsi: '***************' });
  });

  it('stops starting lookups when the caller goes away', async () => {
    const phones = Array.from({ length: 30 }, (_, n) => phone(8, n));
    for (const p of phones) answers.set(p, { status: 200, json: lookupAnswer(p), delayMs: 200 });
    stub.requests.length = 0;
    const server = httpStack.app.listen(0, '127.0.0.1');
    try {
      await new Promise((resolve) => server.once('listening', resolve));
      const call = http.request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/hlr`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${httpStack.operatorKey}`, 'Content-Type': 'application/json' },
      });
      call.on('error', () => undefined);
      call.end(JSON.stringify({ phones }));
      await eventually(async () => stub.requests.length, (n) => n >= 3, 5000, 20);
      call.destroy();
      await sleep(1000);
      // 30 lookups at 3 at a time and 200 ms each would take 2 s: the caller left after the first round.
      expect(stub.requests.length).toBeLessThanOrEqual(6);
      const stored = await httpStack.deps.pool.query('select count(*) as n from hlr_checks where phone like $1', [`+7${blockPart(8)}%`]);
      expect(stored.rows[0].n).toBe(stub.requests.length);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
