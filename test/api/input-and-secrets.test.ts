import { randomUUID } from 'node:crypto';
import pino from 'pino';
import request from 'supertest';
import { ensureBootstrapKey, hashApiKey } from '../../api/auth';
import { webhookSignature } from '../../api/routes/webhooks';
import { ADMIN_KEY, approvedSender, as, smsTemplate, startStack, type TestStack, postWebhook } from '../support/harness';

const NUL = '\u0000';

/** Every line the app logs (pino writes one JSON object per line). */
const logLines: string[] = [];
const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ logger });
});
afterAll(async () => {
  await stack.close();
});

const nulMessage = expect.stringContaining('NUL');

describe('a NUL character anywhere in a body or query → 400 naming the field, never a 500', () => {
  let sender: string;
  let templateId: string;
  beforeAll(async () => {
    sender = await approvedSender(stack, 'sms');
    templateId = await smsTemplate(stack);
  });

  const template = (name: string, text: string) => ({ name, channels: [{ channel: 'sms', sender, text }] });

  it('in a template name', async () => {
    const res = await stack.admin().post('/api/v1/templates').send(template(`Order${NUL}ready`, 'Hi')).expect(400);
    expect(res.body).toEqual({ error: { code: 'validation_failed', message: expect.any(String), details: [{ path: 'name', message: nulMessage }] } });
  });

  it('in a nested channel text', async () => {
    const res = await stack.admin().post('/api/v1/templates').send(template('Order ready', `Hi ${NUL}{name}`)).expect(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details).toEqual([{ path: 'channels.0.text', message: nulMessage }]);
  });

  it('in a recipient variable of a notification', async () => {
    const res = await stack
      .admin()
      .post('/api/v1/notifications')
      .send({ templateId, variables: { order: 'A-1' }, recipients: [{ phone: '+79990000007', variables: { name: `Ann${NUL}` } }] })
      .expect(400);
    expect(res.body.error.details).toEqual([{ path: 'recipients.0.variables.name', message: nulMessage }]);
  });

  it('in an object key, naming the key with the NUL escaped', async () => {
    const res = await stack
      .admin()
      .post('/api/v1/notifications')
      .send({ templateId, variables: { order: 'A-1', [`na${NUL}me`]: 'Ann' }, recipients: [{ phone: '+79990000007' }] })
      .expect(400);
    expect(res.body.error.details).toEqual([{ path: 'variables.na\\u0000me', message: expect.stringContaining('field name contains a NUL') }]);
  });

  it('in a query parameter', async () => {
    const res = await stack.admin().get('/api/v1/templates?search=Order%00ready').expect(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details).toEqual([{ path: 'query.search', message: nulMessage }]);
  });

  it('in a signed webhook body', async () => {
    const body = JSON.stringify({ receipts: [{ providerMessageId: `ref${NUL}1`, status: 'DELIVERED' }] });
    const res = await postWebhook(stack, '/webhooks/sms/sandbox', body).expect(400);
    expect(res.body.error.details).toEqual([{ path: 'receipts.0.providerMessageId', message: nulMessage }]);
  });

  it('deep in a very deeply nested body (no stack overflow)', async () => {
    const depth = 20_000;
    const body = `{"name":${'['.repeat(depth)}"\\u0000"${']'.repeat(depth)}}`;
    const res = await stack.admin().post('/api/v1/templates').set('Content-Type', 'application/json').send(body).expect(400);
    // Compared in short form: a failure would otherwise print a 40 KB path.
    const details = res.body.error.details.map((d: { path: string; message: string }) => ({
      start: d.path.slice(0, 10),
      depth: d.path.split('.').length - 1,
      message: d.message,
    }));
    expect(details).toEqual([{ start: 'name.0.0.0', depth, message: nulMessage }]);
  });

  it('keeps serving afterwards, and the same input without the NUL is accepted', async () => {
    await request(stack.app).get('/health').expect(200);
    await stack.admin().post('/api/v1/templates').send(template('Order ready', 'Hi {name}')).expect(201);
    await stack.admin().get('/api/v1/templates?search=Order').expect(200);
  });
});

describe('request logs never carry credentials', () => {
  it('redacts Authorization, webhook signatures and cookies, and still logs each request', async () => {
    logLines.length = 0;
    const badKey = `bad-key-${randomUUID()}`;
    await stack.admin().get('/api/v1/channels').set('Cookie', 'session=cookie-secret-1').expect(200);
    await request(stack.app).get('/api/v1/channels').set('Authorization', `Bearer ${badKey}`).expect(401);
    // A receipt for an unknown id is parked and logged through req.log, which carries the request too.
    const body = JSON.stringify({ receipts: [{ providerMessageId: `unknown-${randomUUID()}`, status: 'DELIVERED' }] });
    const signature = webhookSignature(stack.config.webhookSecret, body);
    const hubSignature = `sha256=${'ab'.repeat(32)}`;
    await postWebhook(stack, '/webhooks/sms/sandbox', body)
      .set('X-Hub-Signature-256', hubSignature)
      .expect(200);

    const text = logLines.join('');
    for (const secret of [ADMIN_KEY, badKey, signature.slice('sha256='.length), hubSignature.slice('sha256='.length), 'cookie-secret-1']) {
      expect(text).not.toContain(secret);
    }
    const requests = logLines.map((line) => JSON.parse(line)).filter((entry) => entry.res);
    const seen = requests.map((entry) => `${entry.req.method} ${entry.req.url} ${entry.res.statusCode}`);
    expect(seen).toEqual(expect.arrayContaining(['GET /api/v1/channels 200', 'GET /api/v1/channels 401', 'POST /webhooks/sms/sandbox 200']));
    // One line a request: its id, method, path, caller and answer, and how long it took.
    expect(requests[0]).toMatchObject({ req: { id: expect.anything(), method: 'GET', url: '/api/v1/channels', remoteAddress: expect.any(String) }, res: { statusCode: 200 }, responseTime: expect.any(Number) });
    expect(logLines.some((line) => line.includes('receipts for message ids not known yet: parked until they are'))).toBe(true);
  });
});

describe('listing and revoking API keys', () => {
  it('lists keys without their secret or hash, and a revoked key stops working at once', async () => {
    const created = await stack.admin().post('/api/v1/api-keys').send({ name: `crm ${randomUUID()}`, role: 'operator' }).expect(201);
    await as(stack, created.body.key).get('/api/v1/channels').expect(200);

    const list = await stack.admin().get('/api/v1/api-keys?pageSize=500').expect(200);
    expect(JSON.stringify(list.body)).not.toContain(created.body.key);
    expect(JSON.stringify(list.body)).not.toContain(hashApiKey(created.body.key));
    const listed = list.body.items.find((k: { id: string }) => k.id === created.body.id);
    expect(listed).toEqual({
      id: created.body.id,
      name: created.body.name,
      role: 'operator',
      keyPrefix: created.body.key.slice(0, 8),
      createdAt: created.body.createdAt,
      revokedAt: null,
    });
    expect(list.body).toMatchObject({ total: expect.any(Number), page: 1, pageSize: 500 });

    const revoked = await stack.admin().delete(`/api/v1/api-keys/${created.body.id}`).expect(200);
    expect(revoked.body).toEqual({ ...listed, revokedAt: expect.any(String) });
    // The key was cached by the request above; revoking must not wait for the cache to expire.
    const refused = await as(stack, created.body.key).get('/api/v1/channels').expect(401);
    expect(refused.body.error.code).toBe('unauthorized');

    const again = await stack.admin().delete(`/api/v1/api-keys/${created.body.id}`).expect(200);
    expect(again.body.revokedAt).toBe(revoked.body.revokedAt);
    const relisted = await stack.admin().get('/api/v1/api-keys?pageSize=500').expect(200);
    expect(relisted.body.items.find((k: { id: string }) => k.id === created.body.id).revokedAt).toBe(revoked.body.revokedAt);
  });

  it('answers 404 for an unknown or malformed id', async () => {
    await stack.admin().delete(`/api/v1/api-keys/${randomUUID()}`).expect(404);
    const res = await stack.admin().delete('/api/v1/api-keys/not-a-uuid').expect(404);
    expect(res.body.error.code).toBe('not_found');
  });

  it('forbids operators both routes (403)', async () => {
    const operator = as(stack, stack.operatorKey);
    expect((await operator.get('/api/v1/api-keys').expect(403)).body.error.code).toBe('forbidden');
    const { rows } = await stack.deps.pool.query('select id from api_keys where key_hash = $1', [hashApiKey(stack.operatorKey)]);
    await operator.delete(`/api/v1/api-keys/${rows[0].id}`).expect(403);
    await operator.get('/api/v1/channels').expect(200);
  });

  it('keeps a revoked bootstrap key revoked when the bootstrap runs again', async () => {
    const bootstrapKey = `another-bootstrap-key-${randomUUID()}`;
    await ensureBootstrapKey(stack.deps.pool, bootstrapKey);
    await as(stack, bootstrapKey).get('/api/v1/api-keys').expect(200);
    const { rows } = await stack.deps.pool.query('select id from api_keys where key_hash = $1', [hashApiKey(bootstrapKey)]);

    await stack.admin().delete(`/api/v1/api-keys/${rows[0].id}`).expect(200);
    await ensureBootstrapKey(stack.deps.pool, bootstrapKey);
    await as(stack, bootstrapKey).get('/api/v1/api-keys').expect(401);
    const after = await stack.deps.pool.query('select revoked_at from api_keys where id = $1', [rows[0].id]);
    expect(after.rows[0].revoked_at).toBeInstanceOf(Date);
  });

  it('lists a short bootstrap key with a prefix that does not give it away', async () => {
    const shortKey = `k${randomUUID().slice(0, 7)}`;
    await ensureBootstrapKey(stack.deps.pool, shortKey);
    const { rows } = await stack.deps.pool.query('select id from api_keys where key_hash = $1', [hashApiKey(shortKey)]);
    const listed = await stack.admin().get('/api/v1/api-keys?pageSize=500').expect(200);
    const entry = listed.body.items.find((k: { id: string }) => k.id === rows[0].id);
    expect(entry.keyPrefix.length).toBeLessThanOrEqual(shortKey.length / 2);
    expect(shortKey.startsWith(entry.keyPrefix)).toBe(true);
    await stack.admin().delete(`/api/v1/api-keys/${rows[0].id}`).expect(200);
  });

  it('documents both routes in OpenAPI', async () => {
    const res = await request(stack.app).get('/api/v1/openapi.json').expect(200);
    expect(res.body.paths['/api/v1/api-keys'].get.responses['200']).toBeDefined();
    expect(res.body.paths['/api/v1/api-keys/{id}'].delete.responses['404']).toBeDefined();
  });
});
