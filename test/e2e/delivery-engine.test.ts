import { randomUUID } from 'node:crypto';
import { approvedSender, eventually, startStack, type TestStack } from '../support/harness';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: true, env: { SMS_RATE_PER_SECOND: '500' } });
});
afterAll(async () => {
  await stack.close();
});

type Message = { id: string; groupId: string; status: string; statusDescription: string | null; channel: string; recipient: string; optional: boolean; events: { status: string; description: string | null; source: string }[] };

async function createTemplate(channels: Record<string, unknown>[], extra: Record<string, unknown> = {}): Promise<string> {
  const res = await stack.admin().post('/api/v1/templates').send({ name: `engine ${randomUUID().slice(0, 6)}`, channels, ...extra });
  if (res.status !== 201) throw new Error(`template: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

async function send(templateId: string, phones: string[]): Promise<{ taskId: string; messages: { id: string; channel: string; recipient: string }[] }> {
  const res = await stack.admin().post('/api/v1/notifications').send({ templateId, recipients: phones.map((phone) => ({ phone })) });
  if (res.status !== 202) throw new Error(`send: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function task(taskId: string) {
  return (await stack.admin().get(`/api/v1/tasks/${taskId}`).expect(200)).body;
}

async function message(id: string): Promise<Message> {
  return (await stack.admin().get(`/api/v1/messages/${id}`).expect(200)).body;
}

const finished = (t: { status: string; counts: Record<string, number> }) => ['completed', 'canceled', 'failed'].includes(t.status);

describe('sandbox outcomes end in the right status', () => {
  it('maps each last digit to its documented outcome, with the lifetime deciding for silence', async () => {
    const sender = await approvedSender(stack, 'sms');
    const templateId = await createTemplate([{ channel: 'sms', sender, text: 'Code 1234', lifetimeMinutes: 0.05 }]);
    const phones = ['+79990000010', '+79990000011', '+79990000012', '+79990000013', '+79990000014', '+79990000015'];
    const sent = await send(templateId, phones);
    await eventually(() => task(sent.taskId), finished, 30_000);
    const byPhone = new Map<string, Message>();
    for (const m of sent.messages) byPhone.set(m.recipient, await message(m.id));
    const status = (p: string) => [byPhone.get(p)!.status, byPhone.get(p)!.statusDescription];
    expect(status('+79990000010')).toEqual(['DELIVERED', 'sandbox: delivered']);
    expect(status('+79990000011')).toEqual(['UNDELIVERED', 'sandbox: not delivered']);
    expect(status('+79990000012')).toEqual(['ERROR', 'sandbox: permanent error at submit']);
    expect(status('+79990000013')).toEqual(['UNDELIVERED', 'lifetime expired']);
    expect(status('+79990000014')).toEqual(['DELIVERED', 'sandbox: delivered']);
    expect(status('+79990000015')).toEqual(['READ', 'sandbox: read']);
    expect(byPhone.get('+79990000015')!.events.map((e) => e.status)).toEqual(['CREATED', 'QUEUED', 'SENT', 'DELIVERED', 'READ']);
    expect((await task(sent.taskId)).status).toBe('completed');
  });
});

describe('an email without a bounce', () => {
  it('is DELIVERED when its lifetime ends (mail servers report bounces, not deliveries); a bounced one falls back', async () => {
    const email = await approvedSender(stack, 'email', `news-${randomUUID().slice(0, 6)}@acme.test`);
    const sms = await approvedSender(stack, 'sms');
    const templateId = await createTemplate([
      { channel: 'email', sender: email, subject: 'Order', text: '<p>Ready</p>', lifetimeMinutes: 0.05 },
      { channel: 'sms', sender: sms, text: 'Ready', lifetimeMinutes: 0.05 },
    ]);
    const res = await stack
      .admin()
      .post('/api/v1/notifications')
      .send({ templateId, recipients: [{ email: 'ann3@example.com', phone: '+79990000030' }, { email: 'bob1@example.com', phone: '+79990000040' }] })
      .expect(202);
    await eventually(() => task(res.body.taskId), finished, 30_000);
    const all: Message[] = await Promise.all(res.body.messages.map((m: { id: string }) => message(m.id)));
    const of = (recipient: string) => all.find((m) => m.recipient === recipient)!;
    // Silent (sandbox digit 3): accepted, never bounced.
    expect([of('ann3@example.com').status, of('ann3@example.com').statusDescription]).toEqual(['DELIVERED', 'no bounce within the lifetime']);
    expect(of('ann3@example.com').events.map((e) => [e.status, e.source])).toEqual([
      ['CREATED', 'api'],
      ['QUEUED', 'dispatcher'],
      ['SENT', 'provider:sandbox'],
      ['DELIVERED', 'lifetime'],
    ]);
    expect(of('+79990000030').status).toBe('CANCELED');
    // Bounced (digit 1): UNDELIVERED, so the SMS goes out.
    expect(of('bob1@example.com').status).toBe('SKIPPED');
    expect(of('+79990000040').status).toBe('DELIVERED');
  });
});

describe('lifetime and fallback (viber → sms)', () => {
  let templateId: string;
  beforeAll(async () => {
    const viber = await approvedSender(stack, 'viber');
    const sms = await approvedSender(stack, 'sms');
    templateId = await createTemplate([
      { channel: 'viber', sender: viber, text: 'Viber hi', lifetimeMinutes: 0.05 },
      { channel: 'sms', sender: sms, text: 'SMS hi', lifetimeMinutes: 0.05 },
    ]);
  });

  async function outcome(phone: string, beforeFallbackDecided?: (sent: { messages: { id: string }[] }) => Promise<void>) {
    const sent = await send(templateId, [phone]);
    expect(sent.messages.map((m) => [m.channel, (m as unknown as { optional: boolean }).optional])).toEqual([
      ['viber', false],
      ['sms', true],
    ]);
    await beforeFallbackDecided?.(sent);
    await eventually(() => task(sent.taskId), finished, 30_000);
    const [viber, sms] = await Promise.all(sent.messages.map((m) => message(m.id)));
    return { viber: viber!, sms: sms! };
  }

  it('delivered on viber → the optional sms is CANCELED as not needed', async () => {
    const { viber, sms } = await outcome('+79990000020');
    expect([viber.status, sms.status]).toEqual(['DELIVERED', 'CANCELED']);
    expect(sms.statusDescription).toBe('not needed: delivered on viber');
    expect(sms.events.map((e) => e.status)).toEqual(['CREATED', 'CANCELED']);
  });

  it('failed on viber (error at submit) → viber SKIPPED/optional with its reason, sms sent', async () => {
    const { viber, sms } = await outcome('+79990000022');
    expect(viber.status).toBe('SKIPPED');
    expect(viber.optional).toBe(true);
    expect(viber.statusDescription).toBe('Skipped, but optional: sandbox: permanent error at submit');
    expect(sms.events.map((e) => e.status)).toContain('QUEUED');
    expect(sms.status).toBe('ERROR');
  });

  it('viber lifetime expired → SKIPPED, sms dispatched and, silent too, expires UNDELIVERED', async () => {
    const { viber, sms } = await outcome('+79990000023');
    expect(viber.status).toBe('SKIPPED');
    expect(viber.statusDescription).toBe('Skipped, but optional: lifetime expired');
    expect(viber.events.map((e) => e.status)).toEqual(['CREATED', 'QUEUED', 'SENT', 'UNDELIVERED', 'SKIPPED']);
    expect(sms.status).toBe('UNDELIVERED');
    expect(sms.statusDescription).toBe('lifetime expired');
  });

  it("a group's id is its first message's id", async () => {
    const { viber, sms } = await outcome('+79990000020');
    expect(viber.groupId).toBe(viber.id);
    expect(sms.groupId).toBe(viber.id);
  });

  it('a group registered before its id was its first message\'s (another id) falls back the same way', async () => {
    const { viber, sms } = await outcome('+79990000023', async (sent) => {
      // Within the viber message's 3 s lifetime, long before the fallback is decided.
      await stack.deps.pool.query('update messages set group_id = $2 where group_id = $1', [sent.messages[0]!.id, randomUUID()]);
    });
    expect(viber.groupId).not.toBe(viber.id);
    expect(sms.groupId).toBe(viber.groupId);
    expect(viber.status).toBe('SKIPPED');
    expect(viber.statusDescription).toBe('Skipped, but optional: lifetime expired');
    expect(sms.events.map((e) => e.status)).toContain('QUEUED');
    expect(sms.status).toBe('UNDELIVERED');
  });

  it('a late DELIVERED after the fallback was used is recorded on the row, and causes no second fallback', async () => {
    const { viber, sms } = await outcome('+79990000023');
    // The carrier reports delivery of the viber message long after its lifetime ended.
    await stack.deps.pool.query(`insert into sandbox_receipts (message_id, status, description, due_at) values ($1, 'DELIVERED', 'sandbox: late', now())`, [
      viber.id,
    ]);
    const late = await eventually(() => message(viber.id), (m) => m.events.some((e) => e.description?.includes('late')));
    // What really happened is on the row (and so in the export): viber delivered, late.
    expect(late.status).toBe('DELIVERED');
    expect(late.optional).toBe(true);
    expect(late.events.map((e) => e.status)).toEqual(['CREATED', 'QUEUED', 'SENT', 'UNDELIVERED', 'SKIPPED', 'DELIVERED']);
    expect(late.events.at(-1)).toMatchObject({ status: 'DELIVERED', description: 'sandbox: late' });
    await new Promise((r) => setTimeout(r, 1500)); // a sweep or two
    const smsAfter = await message(sms.id);
    expect(smsAfter.status).toBe(sms.status);
    expect(smsAfter.events.filter((e) => e.status === 'QUEUED')).toHaveLength(1);
  });
});

describe('send windows', () => {
  it('a window that opens later: messages DELAYED until it opens, then sent', async () => {
    const sender = await approvedSender(stack, 'sms');
    const now = new Date();
    // A window opening at the next whole minute (UTC) and lasting two minutes.
    const open = new Date(Math.ceil((now.getTime() + 1000) / 60_000) * 60_000);
    const hhmm = (d: Date) => d.toISOString().slice(11, 16);
    const templateId = await createTemplate([{ channel: 'sms', sender, text: 'windowed', lifetimeMinutes: 1 }], {
      timezone: 'UTC',
      sendWindows: [{ from: hhmm(open), to: hhmm(new Date(open.getTime() + 120_000)) }],
    });
    const sent = await send(templateId, ['+79990000030']);
    const delayed = await eventually(() => message(sent.messages[0]!.id), (m) => m.status === 'DELAYED', 10_000);
    expect((delayed as unknown as { delayedStartAt: string }).delayedStartAt).toBe(open.toISOString());
    const history = (await stack.admin().get(`/api/v1/tasks/${sent.taskId}/history`).expect(200)).body;
    expect(history.events.find((e: { kind: string }) => e.kind === 'waiting_for_window').detail.until).toBe(open.toISOString());
    const delivered = await eventually(() => message(sent.messages[0]!.id), (m) => m.status === 'DELIVERED', 90_000, 500);
    const sentAt = new Date((delivered as unknown as { sentAt: string }).sentAt).getTime();
    expect(sentAt).toBeGreaterThanOrEqual(open.getTime());
  }, 120_000);
});

describe('pause, resume and cancel', () => {
  let templateId: string;
  beforeAll(async () => {
    const sender = await approvedSender(stack, 'sms');
    templateId = await createTemplate([{ channel: 'sms', sender, text: 'bulk', lifetimeMinutes: 5 }]);
  });
  /** n distinct Russian mobile numbers ending in `digit` (the sandbox outcome). */
  const phones = (n: number, prefix: string, digit: string) => Array.from({ length: n }, (_, i) => `+7999${prefix}${String(i).padStart(5, '0')}${digit}`);

  async function sentEachOnce(taskId: string) {
    const { rows } = await stack.deps.pool.query(
      `select count(*)::int as messages,
              count(*) filter (where s.send_id is not null)::int as accepted,
              coalesce(sum(s.duplicates), 0)::int as duplicates,
              count(*) filter (where (select count(*) from message_events e where e.message_id = m.id and e.status = 'SENT') > 1)::int as sent_twice
       from messages m left join sandbox_submissions s on s.send_id = m.send_id where m.task_id = $1`,
      [taskId],
    );
    return rows[0];
  }

  it('pause stops dispatch and shows PAUSED; resume sends everyone exactly once', async () => {
    const sent = await send(templateId, phones(3000, '1', '7'));
    await eventually(() => task(sent.taskId), (t) => (t.counts.SENT ?? 0) + (t.counts.DELIVERED ?? 0) > 0, 20_000, 50);
    const paused = await stack.admin().post(`/api/v1/tasks/${sent.taskId}/pause`).expect(200);
    expect(paused.body).toEqual({ status: 'paused' });
    await stack.admin().post(`/api/v1/tasks/${sent.taskId}/pause`).expect(409);
    const whilePaused = await eventually(() => task(sent.taskId), (t) => t.status === 'paused' && (t.counts.PAUSED ?? 0) > 0, 10_000);
    const handedOver = await stack.deps.pool.query('select count(*)::int as n from sandbox_submissions s join messages m on m.send_id = s.send_id where m.task_id = $1', [sent.taskId]);
    await new Promise((r) => setTimeout(r, 1500));
    const later = await stack.deps.pool.query('select count(*)::int as n from sandbox_submissions s join messages m on m.send_id = s.send_id where m.task_id = $1', [sent.taskId]);
    expect(later.rows[0].n).toBe(handedOver.rows[0].n); // nothing dispatched while paused
    expect(whilePaused.counts.PAUSED).toBeGreaterThan(0);

    await stack.admin().post(`/api/v1/tasks/${sent.taskId}/resume`).expect(200);
    await stack.admin().post(`/api/v1/tasks/${sent.taskId}/resume`).expect(409);
    const done = await eventually(() => task(sent.taskId), finished, 60_000);
    expect(done.status).toBe('completed');
    expect(done.counts).toEqual({ DELIVERED: sent.messages.length });
    expect(await sentEachOnce(sent.taskId)).toEqual({ messages: sent.messages.length, accepted: sent.messages.length, duplicates: 0, sent_twice: 0 });
    const history = (await stack.admin().get(`/api/v1/tasks/${sent.taskId}/history`).expect(200)).body;
    expect(history.events.map((e: { kind: string }) => e.kind)).toEqual(['created', 'started', 'paused', 'resumed', 'completed']);
  });

  it('cancel stops everything: unsent messages CANCELED, task canceled, further transitions 409', async () => {
    const sent = await send(templateId, phones(3000, '2', '6'));
    await eventually(() => task(sent.taskId), (t) => (t.counts.SENT ?? 0) + (t.counts.DELIVERED ?? 0) > 0, 20_000, 50);
    expect((await stack.admin().post(`/api/v1/tasks/${sent.taskId}/cancel`).expect(200)).body).toEqual({ status: 'canceled' });
    expect((await task(sent.taskId)).status).toBe('canceled');
    // A page a dispatcher was handing over at that instant is finished; nothing else goes.
    const unsent = (t: { counts: Record<string, number> }) => Object.entries(t.counts).filter(([s]) => ['CREATED', 'QUEUED', 'PAUSED', 'DELAYED'].includes(s));
    const done = await eventually(() => task(sent.taskId), (t) => unsent(t).length === 0, 5_000, 100);
    expect(done.status).toBe('canceled');
    expect(done.counts.CANCELED).toBeGreaterThan(0);
    await stack.admin().post(`/api/v1/tasks/${sent.taskId}/resume`).expect(409);
    const { rows } = await stack.deps.pool.query(
      `select count(*)::int as n from messages m join sandbox_submissions s on s.send_id = m.send_id where m.task_id = $1 and m.status = 'CANCELED'`,
      [sent.taskId],
    );
    expect(rows[0].n).toBe(0); // nothing canceled was handed to the carrier
  });
});
