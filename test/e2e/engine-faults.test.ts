import { Client as PgClient } from 'pg';
import type { WorkerInterceptors } from '@temporalio/worker';
import { DispatchWakeups, notifyDispatchReady } from '../../db/notify';
import { streamStatusQuery, streamWorkflowId } from '../../workflows/definitions';
import { eventually, smsTemplate, startStack, type TestStack } from '../support/harness';

/**
 * Dispatch never waits on anything but its own channel: a sweep that keeps failing, a channel
 * whose dispatcher keeps failing, a database stall longer than a heartbeat timeout, or a restart
 * of the workers must not hold up a send for more than a few seconds. Short rounds (5 s) so the
 * stream continues as new several times during each test.
 */
const failing = new Set<string>();
const interceptors: WorkerInterceptors = {
  activity: [
    (ctx) => ({
      inbound: {
        async execute(input, next) {
          const piece = ctx.info.activityType === 'streamSweep' ? 'sweep' : `${ctx.info.activityType}:${ctx.info.taskQueue}`;
          if (failing.has(piece)) throw new Error(`injected failure of ${piece}`);
          return next(input);
        },
      },
    }),
  ],
};

let stack: TestStack;
let templateId: string;
beforeAll(async () => {
  stack = await startStack({ worker: true, interceptors, env: { STREAM_ROUND_SECONDS: '5' } });
  templateId = await smsTemplate(stack);
});
afterAll(async () => {
  failing.clear();
  await stack.close();
});

let phoneCounter = 0;
/** Sends one SMS and returns how long it took from the 202 to DELIVERED. */
async function sendOne(): Promise<number> {
  const phone = `+7998${String(1_000_000 + phoneCounter++).slice(1)}0`; // ends in 0: delivered
  const sent = await stack.admin().post('/api/v1/notifications').send({ templateId, variables: { name: 'A', order: 'B' }, recipients: [{ phone }] }).expect(202);
  const accepted = Date.now();
  const id = sent.body.messages[0].id;
  await eventually(async () => (await stack.admin().get(`/api/v1/messages/${id}`).expect(200)).body.status, (s) => s === 'DELIVERED', 30_000, 50);
  return Date.now() - accepted;
}

it('a sweep and another channel that keep failing never delay an SMS, across rounds', async () => {
  failing.add('sweep');
  failing.add('streamChannel:channel-viber');
  try {
    const stream = stack.deps.temporal.workflow.getHandle(streamWorkflowId(stack.config.orchestratorTaskQueue));
    const firstRun = (await stream.describe()).runId;
    const latencies: number[] = [];
    // Over about three rounds of five seconds.
    for (const at = Date.now(); Date.now() - at < 14_000; ) {
      latencies.push(await sendOne());
      await new Promise((r) => setTimeout(r, 1500));
    }
    expect((await stream.describe()).runId).not.toBe(firstRun); // continued as new meanwhile
    // Named with their place in the series (one every 1.5 s), so a failure shows where in the rounds it fell.
    expect(latencies.flatMap((ms, i) => (ms < 3000 ? [] : [`send ${i + 1} of ${latencies.length}: ${ms} ms`]))).toEqual([]);
  } finally {
    failing.clear();
  }
}, 60_000);

it('rows announced while a dispatcher was claiming end its next wait at once (the notification is not lost)', async () => {
  const wakeups = new DispatchWakeups(stack.config.databaseUrl);
  await wakeups.start();
  /** Rows on `channel` commit and their notification has arrived — with nobody waiting yet. */
  const announcedWhileNobodyWaits = async (channel: string) => {
    const before = wakeups.mark(channel);
    await notifyDispatchReady(stack.deps.pool, [channel]);
    await eventually(async () => wakeups.mark(channel), (now) => now !== before, 5000, 10);
  };
  try {
    const beforeClaim = wakeups.mark('sms');
    // The rows commit while the claim runs: its snapshot missed them.
    await announcedWhileNobodyWaits('sms');
    const waited = Date.now();
    await wakeups.wait('sms', 5000, undefined, beforeClaim);
    expect(Date.now() - waited).toBeLessThan(100);
    // Another channel's rows do not end an SMS dispatcher's wait.
    const beforeNextClaim = wakeups.mark('sms');
    await announcedWhileNobodyWaits('viber');
    const idle = Date.now();
    await wakeups.wait('sms', 300, undefined, beforeNextClaim);
    expect(Date.now() - idle).toBeGreaterThanOrEqual(290);
  } finally {
    await wakeups.stop();
  }
});

it('a database stall longer than the heartbeat timeout: sends accepted after it go out within seconds', async () => {
  const locker = new PgClient({ connectionString: stack.config.databaseUrl });
  await locker.connect();
  try {
    await locker.query('begin');
    await locker.query('lock table messages in exclusive mode');
    // Everything that touches messages waits: the dispatchers' claims, the sweep, the carrier.
    await new Promise((r) => setTimeout(r, 15_000));
    await locker.query('commit');
  } finally {
    await locker.end();
  }
  const stream = stack.deps.temporal.workflow.getHandle(streamWorkflowId(stack.config.orchestratorTaskQueue));
  const before = await stream.query(streamStatusQuery);
  const latency = await sendOne();
  expect(latency).toBeLessThan(3000);
  // The pieces kept heartbeating through the stall: none was timed out and started again.
  const after = await stream.query(streamStatusQuery);
  if (after.roundEndsAt === before.roundEndsAt) expect(after.starts).toEqual(before.starts);
}, 60_000);

it('after the workers stop (as on Ctrl-C) and start again, a send accepted meanwhile goes out within seconds', async () => {
  await stack.stopWorkers();
  const sent = await stack
    .admin()
    .post('/api/v1/notifications')
    .send({ templateId, variables: { name: 'A', order: 'B' }, recipients: [{ phone: '+79990007770' }] })
    .expect(202);
  await new Promise((r) => setTimeout(r, 2000));
  const restarted = Date.now();
  await stack.startWorkers();
  const id = sent.body.messages[0].id;
  await eventually(async () => (await stack.admin().get(`/api/v1/messages/${id}`).expect(200)).body.status, (s) => s === 'DELIVERED', 30_000, 100);
  const seconds = (Date.now() - restarted) / 1000;
  console.log(`delivered ${seconds.toFixed(1)} s after the workers started again`);
  expect(seconds).toBeLessThan(8);
}, 60_000);
