import fs from 'node:fs';
import { processTree, startApiProcess } from '../../scripts/bench/processes';
import { createDatabase, dropDatabase } from '../../scripts/services/postgres';
import { eventually } from '../support/harness';

/**
 * The API as deployed for more than one core (`npm run api` with API_PROCESSES): a primary that
 * forks the processes serving the port, each with the heap limit API_HEAP_MB asks for, and starts
 * another when one dies.
 */
const baseUrl = process.env.DATABASE_URL!;
const databaseName = `notif_api_processes_${process.pid}`;
let api: Awaited<ReturnType<typeof startApiProcess>>;

beforeAll(async () => {
  const databaseUrl = await createDatabase(baseUrl, databaseName);
  api = await startApiProcess({ DATABASE_URL: databaseUrl, API_PROCESSES: '2', API_HEAP_MB: '128', ADMIN_API_KEY: 'processes-admin-key' });
}, 90_000);
afterAll(async () => {
  await api?.stop();
  await dropDatabase(baseUrl, databaseName).catch(() => undefined);
});

const serving = () => processTree(api.child.pid!).slice(1);
const commandLine = (pid: number) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');

it('two processes serve the port, each started with the heap limit; one that dies is replaced', async () => {
  const pids = await eventually(async () => serving(), (p) => p.length === 2, 20_000, 100);
  for (const pid of pids) expect(commandLine(pid)).toContain('--max-old-space-size=128');
  const answers = await Promise.all(
    Array.from({ length: 20 }, () => fetch(`http://127.0.0.1:${api.port}/api/v1/templates`, { headers: { authorization: 'Bearer processes-admin-key' } }).then((r) => r.status)),
  );
  expect(answers).toEqual(Array(20).fill(200));

  process.kill(pids[0]!, 'SIGKILL');
  const replaced = await eventually(async () => serving(), (p) => p.length === 2 && !p.includes(pids[0]!), 20_000, 200);
  expect(commandLine(replaced.find((pid) => pid !== pids[1])!)).toContain('--max-old-space-size=128');
  await eventually(() => fetch(`http://127.0.0.1:${api.port}/health`).then((r) => r.status), (s) => s === 200, 20_000, 200);
}, 90_000);
