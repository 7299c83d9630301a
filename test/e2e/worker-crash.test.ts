import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { approvedSender, eventually, startStack, type TestStack } from '../support/harness';

/** Kills a real worker process mid-campaign (SIGKILL: no shutdown, in-flight pages lost) and
 * starts another: every recipient must end sent exactly once. */
let stack: TestStack;
const children: ChildProcess[] = [];

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }),
  );
  await stack.close();
});

function startWorkerProcess(): Promise<ChildProcess> {
  const root = path.resolve(__dirname, '..', '..');
  // Node itself runs the worker (tsx as a loader, not its CLI wrapper), so SIGKILL hits the worker.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'worker', 'main.ts')], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: stack.config.databaseUrl,
      TEMPORAL_ADDRESS: stack.config.temporal.address,
      TEMPORAL_TASK_QUEUE: stack.config.orchestratorTaskQueue,
      SMS_RATE_PER_SECOND: '400',
      SANDBOX_LATENCY_MS: '100',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += String(chunk);
      if (output.includes('workers started')) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited early (${code}): ${output}`)));
  });
}

it('a worker killed mid-campaign and replaced: every recipient sent exactly once', async () => {
  const sender = await approvedSender(stack, 'sms');
  const template = await stack
    .admin()
    .post('/api/v1/templates')
    .send({ name: `crash ${randomUUID().slice(0, 6)}`, channels: [{ channel: 'sms', sender, text: 'crash test', lifetimeMinutes: 10 }] })
    .expect(201);
  const phones = Array.from({ length: 4000 }, (_, i) => `+79993${String(i).padStart(5, '0')}0`);
  const first = await startWorkerProcess();
  const sent = await stack
    .admin()
    .post('/api/v1/notifications')
    .send({ templateId: template.body.id, recipients: phones.map((phone) => ({ phone })) })
    .expect(202);
  const taskUrl = `/api/v1/tasks/${sent.body.taskId}`;
  const before = await eventually(
    async () => (await stack.admin().get(taskUrl).expect(200)).body,
    (t) => (t.counts.SENT ?? 0) + (t.counts.DELIVERED ?? 0) >= 1000,
    60_000,
    50,
  );
  const killed = new Promise((resolve) => first.once('exit', (_code, signal) => resolve(signal)));
  first.kill('SIGKILL');
  expect(await killed).toBe('SIGKILL');
  expect(before.counts.CREATED ?? 0).toBeGreaterThan(0); // killed mid-campaign, not after

  await startWorkerProcess();
  const done = await eventually(async () => (await stack.admin().get(taskUrl).expect(200)).body, (t) => t.status === 'completed', 120_000, 500);
  expect(done.counts).toEqual({ DELIVERED: 4000 });
  const { rows } = await stack.deps.pool.query(
    `select count(*)::int as accepted, coalesce(sum(duplicates), 0)::int as resubmitted_and_suppressed,
            (select count(*)::int from messages m where m.task_id = $1
               and (select count(*) from message_events e where e.message_id = m.id and e.status = 'DELIVERED') <> 1) as not_delivered_once
     from sandbox_submissions s join messages m on m.send_id = s.send_id where m.task_id = $1`,
    [sent.body.taskId],
  );
  expect(rows[0].accepted).toBe(4000);
  expect(rows[0].not_delivered_once).toBe(0);
}, 240_000);
