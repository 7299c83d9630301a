import request from 'supertest';
import { as, smsTemplate, startStack, type TestStack } from '../support/harness';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack.close();
});

describe('authentication and roles', () => {
  it('rejects a request without a key with 401 and the documented error shape', async () => {
    const res = await request(stack.app).get('/api/v1/templates').expect(401);
    expect(res.body).toEqual({ error: { code: 'unauthorized', message: expect.stringContaining('Authorization: Bearer') } });
  });

  it('rejects an unknown key with 401', async () => {
    await request(stack.app).get('/api/v1/templates').set('Authorization', 'Bearer nope').expect(401);
  });

  it('lets an operator key read but not do admin work (403)', async () => {
    await as(stack, stack.operatorKey).get('/api/v1/channels').expect(200);
    const res = await as(stack, stack.operatorKey).post('/api/v1/channels/email/enable').expect(403);
    expect(res.body.error.code).toBe('forbidden');
  });

  it('creates API keys that work and stores only their hash', async () => {
    const created = await stack.admin().post('/api/v1/api-keys').send({ name: 'crm', role: 'operator' }).expect(201);
    expect(created.body.key).toMatch(/^nok_/);
    await as(stack, created.body.key).get('/api/v1/channels').expect(200);
    const { rows } = await stack.deps.pool.query('select key_hash from api_keys where id = $1', [created.body.id]);
    expect(rows[0].key_hash).not.toContain(created.body.key);
    expect(rows[0].key_hash).toHaveLength(64);
  });
});

describe('health, metrics and the OpenAPI contract', () => {
  it('reports database and temporal health without a key', async () => {
    const res = await request(stack.app).get('/health').expect(200);
    expect(res.body).toEqual({ status: 'ok', database: 'ok', temporal: 'ok' });
  });

  it('serves Prometheus metrics', async () => {
    await request(stack.app).get('/health');
    const res = await request(stack.app).get('/metrics').expect(200);
    expect(res.text).toContain('http_request_duration_seconds_bucket');
    expect(res.text).toContain('process_cpu_user_seconds_total');
  });

  it('publishes OpenAPI generated from the request schemas, and the docs page', async () => {
    const res = await request(stack.app).get('/api/v1/openapi.json').expect(200);
    expect(res.body.openapi).toBe('3.1.0');
    const send = res.body.paths['/api/v1/notifications'].post;
    expect(send.requestBody.content['application/json'].schema.properties.recipients.type).toBe('array');
    expect(res.body.paths['/api/v1/templates/{id}'].delete.responses['409']).toBeDefined();
    expect(res.body.paths['/api/v1/messages/{id}'].get).toBeDefined();
    const docs = await request(stack.app).get('/docs/').expect(200);
    expect(docs.text).toContain('swagger-ui');
  });
});

describe('bad input gets a clear 4xx', () => {
  let templateId: string;
  beforeAll(async () => {
    templateId = await smsTemplate(stack);
  });

  it('malformed JSON → 400 naming the body', async () => {
    const res = await stack.admin().post('/api/v1/notifications').set('Content-Type', 'application/json').send('{"templateId": ').expect(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details).toEqual([{ path: 'body', message: 'not valid JSON' }]);
  });

  it('wrong types → 400 naming each field', async () => {
    const res = await stack.admin().post('/api/v1/notifications').send({ templateId: 42, recipients: 'ann' }).expect(400);
    const paths = res.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['templateId', 'recipients']));
  });

  it('unknown template → 422 naming templateId', async () => {
    const res = await stack
      .admin()
      .post('/api/v1/notifications')
      .send({ templateId: '00000000-0000-4000-8000-000000000000', recipients: [{ phone: '+79990000007' }] })
      .expect(422);
    expect(res.body.error.details).toEqual([{ path: 'templateId', message: 'no such template' }]);
  });

  it('invalid phone → 422 naming the recipient', async () => {
    const res = await stack
      .admin()
      .post('/api/v1/notifications')
      .send({ templateId, variables: { name: 'A', order: '1' }, recipients: [{ phone: '+79990000007' }, { phone: '12345' }] })
      .expect(422);
    expect(res.body.error.details).toEqual([{ path: 'recipients.1.phone', message: '"12345" is not a valid phone number' }]);
  });

  it('missing variables → 422 listing the names', async () => {
    const res = await stack.admin().post('/api/v1/notifications').send({ templateId, recipients: [{ phone: '+79990000007' }] }).expect(422);
    expect(res.body.error.details).toEqual([{ path: 'recipients.0.variables', message: 'missing values for: name, order' }]);
  });

  it('more than 10,000 recipients → 413', async () => {
    const recipients = Array.from({ length: 10_001 }, () => ({ phone: '+79990000007' }));
    const res = await stack.admin().post('/api/v1/notifications').send({ templateId, variables: { name: 'A', order: '1' }, recipients }).expect(413);
    expect(res.body.error.code).toBe('too_many_recipients');
  });

  it('unknown ids in paths → 404, unknown routes → 404', async () => {
    await stack.admin().get('/api/v1/messages/not-a-uuid').expect(404);
    await stack.admin().get('/api/v1/messages/00000000-0000-4000-8000-000000000000').expect(404);
    await stack.admin().get('/api/v1/tasks/00000000-0000-4000-8000-000000000000').expect(404);
    await stack.admin().get('/api/v1/nothing-here').expect(404);
  });

  it('a template with an unapproved sender or a disabled channel → 422 naming it', async () => {
    const res = await stack
      .admin()
      .post('/api/v1/templates')
      .send({ name: 'x', channels: [{ channel: 'sms', sender: 'NOBODY', text: 'hi' }] })
      .expect(422);
    expect(res.body.error.details).toEqual([{ path: 'channels.0.sender', message: 'sender "NOBODY" is not approved for sms' }]);
  });

  it('keeps serving after bad input', async () => {
    await request(stack.app).get('/health').expect(200);
  });
});
