import { smsTemplate, startStack, type TestStack } from '../support/harness';

/**
 * API sends are group-committed (db/sends.ts#SendWriter): concurrent requests share one insert
 * statement, and a lone request waits only a couple of milliseconds for company.
 */
let stack: TestStack;
let templateId: string;
let sendStatements = 0;
beforeAll(async () => {
  stack = await startStack();
  templateId = await smsTemplate(stack);
  // Count the statements that write sends (task, timeline and message rows in one).
  const query = stack.deps.pool.query.bind(stack.deps.pool) as (...args: unknown[]) => unknown;
  (stack.deps.pool as unknown as { query: unknown }).query = (...args: unknown[]) => {
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string }).text;
    if (text?.includes('insert into tasks')) sendStatements++;
    return query(...args);
  };
});
afterAll(async () => {
  await stack.close();
});

const send = (i: number) =>
  stack
    .admin()
    .post('/api/v1/notifications')
    .send({ templateId, variables: { name: 'A', order: String(i) }, recipients: [{ phone: `+7999555${String(i).padStart(4, '0')}` }] });

it('concurrent sends are written together, each durable when answered', async () => {
  sendStatements = 0;
  const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => send(i)));
  expect(answers.map((a) => a.status)).toEqual(Array(40).fill(202));
  expect(sendStatements).toBeGreaterThan(0);
  expect(sendStatements).toBeLessThanOrEqual(10);
  const ids = answers.map((a) => a.body.messages[0].id as string);
  const { rows } = await stack.deps.pool.query('select count(*)::int as n from messages where id = any($1::uuid[])', [ids]);
  expect(rows[0].n).toBe(40);
});

it('a lone send is not held back waiting for others', async () => {
  await send(100).expect(202); // warm
  const started = Date.now();
  const answer = await send(101).expect(202);
  expect(Date.now() - started).toBeLessThan(1000);
  const { rows } = await stack.deps.pool.query('select status from messages where id = $1', [answer.body.messages[0].id]);
  expect(rows).toHaveLength(1);
});
