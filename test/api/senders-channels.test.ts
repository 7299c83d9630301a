import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { migrate } from '../../db/orm';
import { createDatabase, dropDatabase } from '../../scripts/services/postgres';
import { as, eventually, startStack, type TestStack } from '../support/harness';

/**
 * Channels and senders. Channel switches are account-wide, so this file runs against a database
 * of its own (created and migrated here, dropped at the end): it sees the defaults as a new
 * installation does, and disabling a channel cannot disturb test files running in parallel.
 */

let stack: TestStack;
let baseUrl: string;
const databaseName = `notif_test_${process.pid}_channels_${randomUUID().slice(0, 6)}`;

beforeAll(async () => {
  baseUrl = process.env.DATABASE_URL!;
  const url = await createDatabase(baseUrl, databaseName);
  await migrate(url);
  stack = await startStack({ env: { DATABASE_URL: url } });
});
afterAll(async () => {
  await stack?.close();
  await dropDatabase(baseUrl, databaseName);
});

const operator = () => as(stack, stack.operatorKey);
const paths = (res: request.Response): string[] => (res.body.error?.details ?? []).map((d: { path: string }) => d.path);
const channelStates = async () => (await operator().get('/api/v1/channels').expect(200)).body as { channel: string; enabled: boolean }[];

async function approved(channel: string, name: string): Promise<string> {
  const created = await operator().post('/api/v1/senders').send({ name, channel }).expect(201);
  await stack.admin().post(`/api/v1/senders/${created.body.id}/approve`).expect(200);
  return name;
}

describe('channels', () => {
  it('lists every channel in order; email and push start disabled', async () => {
    expect(await channelStates()).toEqual([
      { channel: 'sms', enabled: true },
      { channel: 'email', enabled: false },
      { channel: 'push', enabled: false },
      { channel: 'viber', enabled: true },
      { channel: 'whatsapp', enabled: true },
      { channel: 'chat', enabled: true },
    ]);
  });

  it('a template on a disabled channel → 422 naming the channel (even with an approved sender)', async () => {
    const from = await approved('email', 'news@acme.test');
    const res = await operator()
      .post('/api/v1/templates')
      .send({ name: 'Mail', channels: [{ channel: 'sms', sender: await approved('sms', 'ACME'), text: 'x' }, { channel: 'email', sender: from, subject: 's', text: 't' }] })
      .expect(422);
    expect(res.body.error).toEqual({
      code: 'unprocessable',
      message: expect.any(String),
      details: [{ path: 'channels.1.channel', message: 'channel email is disabled (an admin can enable it)' }],
    });
    const push = await operator().post('/api/v1/templates').send({ name: 'Push', channels: [{ channel: 'push', sender: 'app', text: 'x' }] }).expect(422);
    expect(push.body.error.details).toEqual([
      { path: 'channels.0.channel', message: 'channel push is disabled (an admin can enable it)' },
      { path: 'channels.0.sender', message: 'sender "app" is not approved for push' },
    ]);
  });

  it('only an admin enables or disables a channel (operator: 403)', async () => {
    for (const action of ['enable', 'disable']) {
      const res = await operator().post(`/api/v1/channels/email/${action}`).expect(403);
      expect(res.body.error).toEqual({ code: 'forbidden', message: expect.any(String) });
    }
    await request(stack.app).post('/api/v1/channels/email/enable').expect(401);
    expect((await channelStates()).find((c) => c.channel === 'email')!.enabled).toBe(false);
  });

  it('an admin enables email; templates may then use it; enabling twice is harmless', async () => {
    expect((await stack.admin().post('/api/v1/channels/email/enable').expect(200)).body).toEqual({ channel: 'email', enabled: true });
    await stack.admin().post('/api/v1/channels/email/enable').expect(200);
    expect((await channelStates()).find((c) => c.channel === 'email')!.enabled).toBe(true);
    await operator()
      .post('/api/v1/templates')
      .send({ name: 'Mail', channels: [{ channel: 'email', sender: 'news@acme.test', subject: 's', text: 't' }] })
      .expect(201);
  });

  it('disabling a channel refuses new templates and sends of existing templates on it (422), until enabled again', async () => {
    await approved('viber', 'ACME Viber');
    const created = await operator()
      .post('/api/v1/templates')
      .send({ name: 'Viber', channels: [{ channel: 'viber', sender: 'ACME Viber', text: 'Hi {name}' }] })
      .expect(201);
    expect((await stack.admin().post('/api/v1/channels/viber/disable').expect(200)).body).toEqual({ channel: 'viber', enabled: false });
    expect((await channelStates()).find((c) => c.channel === 'viber')!.enabled).toBe(false);

    const template = await operator().post('/api/v1/templates').send({ name: 'Viber 2', channels: [{ channel: 'viber', sender: 'ACME Viber', text: 'x' }] }).expect(422);
    expect(paths(template)).toEqual(['channels.0.channel']);
    const send = await operator()
      .post('/api/v1/notifications')
      .send({ templateId: created.body.id, variables: { name: 'Ann' }, recipients: [{ phone: '+79990000007' }] })
      .expect(422);
    expect(send.body.error.details).toEqual([{ path: 'channels.0.channel', message: 'channel viber is disabled (an admin can enable it)' }]);
    const preview = await operator().post(`/api/v1/templates/${created.body.id}/preview`).send({ variables: { name: 'Ann' } }).expect(200);
    expect(preview.body.channels[0].text).toBe('Hi Ann');

    await stack.admin().post('/api/v1/channels/viber/enable').expect(200);
    await operator().post('/api/v1/templates').send({ name: 'Viber 3', channels: [{ channel: 'viber', sender: 'ACME Viber', text: 'x' }] }).expect(201);
  });

  it('sends check their template once a second: a burst loads it once, and a channel disabled meanwhile refuses sends within about a second', async () => {
    await approved('viber', 'ACME Burst');
    const created = await operator()
      .post('/api/v1/templates')
      .send({ name: 'Viber burst', channels: [{ channel: 'viber', sender: 'ACME Burst', text: 'Hi {name}' }] })
      .expect(201);
    const send = (phone: string) => operator().post('/api/v1/notifications').send({ templateId: created.body.id, variables: { name: 'Ann' }, recipients: [{ phone }] });
    const lookups = jest.spyOn(stack.deps.orm.em, 'fork');
    try {
      // Thirty sends at once, none of which finds the template checked yet.
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => send(`+7999100${String(i).padStart(4, '0')}`)));
      expect(answers.map((a) => a.status)).toEqual(Array(30).fill(202));
      expect(lookups).toHaveBeenCalledTimes(1);
    } finally {
      lookups.mockRestore();
    }
    await stack.admin().post('/api/v1/channels/viber/disable').expect(200);
    try {
      const disabledAt = Date.now();
      await eventually(async () => (await send('+79991009999')).status, (status) => status === 422, 5000, 100);
      expect(Date.now() - disabledAt).toBeLessThan(1500);
    } finally {
      await stack.admin().post('/api/v1/channels/viber/enable').expect(200);
    }
  });

  it('an unknown channel → 404', async () => {
    for (const action of ['enable', 'disable']) {
      const res = await stack.admin().post(`/api/v1/channels/fax/${action}`).expect(404);
      expect(res.body.error.code).toBe('not_found');
    }
  });
});

describe('senders', () => {
  it('a registration request is pending; the list shows it', async () => {
    const res = await operator().post('/api/v1/senders').send({ name: 'SHOP', channel: 'sms' }).expect(201);
    expect(res.body).toEqual({ id: expect.any(String), name: 'SHOP', channel: 'sms', status: 'pending', createdAt: expect.any(String), approvedAt: null });
    const list = await operator().get('/api/v1/senders?channel=sms&status=pending').expect(200);
    expect(list.body.items).toContainEqual(res.body);
    expect(list.body).toMatchObject({ page: 1, pageSize: 50 });
  });

  it('a pending sender cannot be used (422); after admin approval it can', async () => {
    const created = await operator().post('/api/v1/senders').send({ name: 'BANK', channel: 'sms' }).expect(201);
    const body = { name: 'Bank', channels: [{ channel: 'sms', sender: 'BANK', text: 'x' }] };
    const refused = await operator().post('/api/v1/templates').send(body).expect(422);
    expect(refused.body.error.details).toEqual([{ path: 'channels.0.sender', message: 'sender "BANK" is not approved for sms (its request is pending)' }]);

    const approvedRes = await stack.admin().post(`/api/v1/senders/${created.body.id}/approve`).expect(200);
    expect(approvedRes.body).toMatchObject({ id: created.body.id, status: 'approved', approvedAt: expect.any(String) });
    await stack.admin().post(`/api/v1/senders/${created.body.id}/approve`).expect(200); // idempotent
    await operator().post('/api/v1/templates').send(body).expect(201);
  });

  it('only an admin approves or rejects (operator: 403)', async () => {
    const created = await operator().post('/api/v1/senders').send({ name: 'PHARMA', channel: 'sms' }).expect(201);
    for (const action of ['approve', 'reject']) {
      const res = await operator().post(`/api/v1/senders/${created.body.id}/${action}`).expect(403);
      expect(res.body.error.code).toBe('forbidden');
    }
    const list = await operator().get('/api/v1/senders?status=pending').expect(200);
    expect(list.body.items.map((s: { id: string }) => s.id)).toContain(created.body.id);
  });

  it('approval is per channel: a sender approved for sms is not approved for viber', async () => {
    await approved('sms', 'MULTI');
    const res = await operator().post('/api/v1/templates').send({ name: 'Multi', channels: [{ channel: 'viber', sender: 'MULTI', text: 'x' }] }).expect(422);
    expect(res.body.error.details).toEqual([{ path: 'channels.0.sender', message: 'sender "MULTI" is not approved for viber' }]);
    await approved('viber', 'MULTI');
    await operator().post('/api/v1/templates').send({ name: 'Multi', channels: [{ channel: 'viber', sender: 'MULTI', text: 'x' }] }).expect(201);
  });

  it('a rejected (revoked) sender → 422 for new templates and for sends of existing ones', async () => {
    await approved('sms', 'REVOKE');
    const template = await operator().post('/api/v1/templates').send({ name: 'Revoke', channels: [{ channel: 'sms', sender: 'REVOKE', text: 'x' }] }).expect(201);
    const sender = (await operator().get('/api/v1/senders?channel=sms&status=approved').expect(200)).body.items.find((s: { name: string }) => s.name === 'REVOKE');
    const rejected = await stack.admin().post(`/api/v1/senders/${sender.id}/reject`).expect(200);
    expect(rejected.body).toMatchObject({ status: 'rejected', approvedAt: null });

    const refused = await operator().post('/api/v1/templates').send({ name: 'Revoke 2', channels: [{ channel: 'sms', sender: 'REVOKE', text: 'x' }] }).expect(422);
    expect(refused.body.error.details).toEqual([{ path: 'channels.0.sender', message: 'sender "REVOKE" is not approved for sms (it was rejected)' }]);
    const send = await operator().post('/api/v1/notifications').send({ templateId: template.body.id, recipients: [{ phone: '+79990000007' }] }).expect(422);
    expect(paths(send)).toEqual(['channels.0.sender']);
  });

  it('the same name on the same channel twice → 409; on another channel it is a new sender', async () => {
    await operator().post('/api/v1/senders').send({ name: 'TWICE', channel: 'sms' }).expect(201);
    const res = await operator().post('/api/v1/senders').send({ name: 'TWICE', channel: 'sms' }).expect(409);
    expect(res.body.error).toEqual({ code: 'conflict', message: 'sender "TWICE" is already registered for sms' });
    await operator().post('/api/v1/senders').send({ name: 'TWICE', channel: 'viber' }).expect(201);
  });

  it('simultaneous identical requests: one 201, the others 409, never a 500', async () => {
    const results = await Promise.all(Array.from({ length: 5 }, () => operator().post('/api/v1/senders').send({ name: 'RACE', channel: 'sms' })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
  });

  it.each([
    ['no name', { channel: 'sms' }, 'name'],
    ['an empty name', { name: '  ', channel: 'sms' }, 'name'],
    ['an unknown channel', { name: 'ACME', channel: 'fax' }, 'channel'],
    ['no channel', { name: 'ACME' }, 'channel'],
    ['an unknown field', { name: 'ACME', channel: 'sms', status: 'approved' }, 'status'],
    ['an SMS sender id longer than 11 characters', { name: 'ACMECORPORATE', channel: 'sms' }, 'name'],
    ['an SMS sender with symbols', { name: 'ACME!', channel: 'sms' }, 'name'],
    ['an email sender that is not an address', { name: 'ACME', channel: 'email' }, 'name'],
    ['an email sender with a broken address', { name: 'ACME <news@>', channel: 'email' }, 'name'],
  ])('a request with %s → 400 naming %s', async (_name, body, path) => {
    const res = await operator().post('/api/v1/senders').send(body).expect(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(paths(res)).toEqual([path]);
  });

  it.each([
    ['sms', '+79990000000'],
    ['sms', '1234'],
    ['sms', 'Shop-24 &Co'],
    ['email', 'hello@shop.example'],
    ['email', 'Shop News <news@shop.example>'],
    ['push', 'com.shop.app'],
    ['whatsapp', '+7 999 000-00-01'],
  ])('accepts a %s sender "%s"', async (channel, name) => {
    await operator().post('/api/v1/senders').send({ name, channel }).expect(201);
  });

  it('unknown or malformed ids → 404', async () => {
    for (const id of [randomUUID(), 'nope']) {
      for (const action of ['approve', 'reject']) await stack.admin().post(`/api/v1/senders/${id}/${action}`).expect(404);
    }
  });

  it('lists with filters and pagination', async () => {
    const all = await operator().get('/api/v1/senders?pageSize=500').expect(200);
    expect(all.body.total).toBe(all.body.items.length);
    const page = await operator().get('/api/v1/senders?page=2&pageSize=3').expect(200);
    expect(page.body).toMatchObject({ page: 2, pageSize: 3, total: all.body.total });
    expect(page.body.items).toEqual(all.body.items.slice(3, 6));
    const viber = await operator().get('/api/v1/senders?channel=viber').expect(200);
    expect(viber.body.items.length).toBeGreaterThan(0);
    expect(viber.body.items.every((s: { channel: string }) => s.channel === 'viber')).toBe(true);
    const rejected = await operator().get('/api/v1/senders?status=rejected').expect(200);
    expect(rejected.body.items.map((s: { name: string }) => s.name)).toEqual(['REVOKE']);
    const bad = await operator().get('/api/v1/senders?status=maybe&channel=fax').expect(400);
    expect(paths(bad).sort()).toEqual(['query.channel', 'query.status']);
  });
});
