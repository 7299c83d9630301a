import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { createDatabase, dropDatabase } from '../../scripts/services/postgres';
import { freePort } from '../../worker/ports';

/**
 * `npm start` as a user runs it: the launcher in a process group of its own (a terminal's
 * foreground job), stopped by SIGINT to the whole group as Ctrl-C does. It must stop the API and
 * worker before Temporal, quickly and silently, leave nothing running, and start again on the
 * same data folder.
 */
const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
const STOP_LIMIT_MS = 10_000;
const START_LIMIT_MS = 90_000;
/** Registered in the first run, looked up in the second: the Temporal SQLite file was reused. */
const PERSISTENCE_NAMESPACE = 'launcher-persistence-check';

interface Launcher {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let baseDatabaseUrl: string;
let databaseName: string;
let launcherEnv: NodeJS.ProcessEnv;
let dataDir: string;
let apiPort: number;
let temporalPort: number;
let temporalUiPort: number;
const launchers: Launcher[] = [];

beforeAll(async () => {
  baseDatabaseUrl = process.env.DATABASE_URL!;
  databaseName = `notif_launcher_${process.pid}`;
  const databaseUrl = await createDatabase(baseDatabaseUrl, databaseName);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'notif-launcher-'));
  const ports = new Set<number>();
  while (ports.size < 3) ports.add(await freePort());
  [apiPort, temporalPort, temporalUiPort] = [...ports] as [number, number, number];
  // The test setup's own Temporal server and test settings must not leak into the launcher.
  const { TEMPORAL_ADDRESS: _address, TEMPORAL_UI_URL: _uiUrl, NODE_ENV: _nodeEnv, ...inherited } = process.env;
  launcherEnv = {
    ...inherited,
    DATABASE_URL: databaseUrl,
    DATA_DIR: dataDir,
    PORT: String(apiPort),
    TEMPORAL_PORT: String(temporalPort),
    TEMPORAL_UI_PORT: String(temporalUiPort),
  };
});

afterAll(async () => {
  for (const launcher of launchers) {
    if (launcher.child.exitCode !== null || launcher.child.signalCode !== null) continue;
    // A failed test may leave one running; its Temporal server stops itself once it is gone.
    process.kill(-launcher.child.pid!, 'SIGKILL');
    await launcher.exited;
  }
  await dropDatabase(baseDatabaseUrl, databaseName).catch(() => undefined);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function startLauncher(): Launcher {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/dev.ts'], {
    cwd: PROJECT_ROOT,
    env: launcherEnv,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += String(chunk)));
  child.stderr!.on('data', (chunk) => (output += String(chunk)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const launcher = { child, output: () => output, exited };
  launchers.push(launcher);
  return launcher;
}

async function waitForApiUrl(launcher: Launcher): Promise<string> {
  const deadline = Date.now() + START_LIMIT_MS;
  for (;;) {
    // The API's line carries its base path (…/api/v1); /health is at the origin.
    const match = /API:\s+(http:\/\/\S+)\/api\/v1/.exec(launcher.output());
    if (match) return match[1]!;
    if (launcher.child.exitCode !== null) throw new Error(`the launcher exited (${launcher.child.exitCode}) before it was ready:\n${launcher.output()}`);
    if (Date.now() > deadline) throw new Error(`the launcher was not ready within ${START_LIMIT_MS / 1000} s:\n${launcher.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => (socket.destroy(), resolve(false)));
  });
}

function processGroupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** Ctrl-C in a terminal: SIGINT to every process of the foreground group. */
async function pressCtrlC(launcher: Launcher) {
  const pgid = launcher.child.pid!;
  const sentAt = Date.now();
  process.kill(-pgid, 'SIGINT');
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([
    launcher.exited,
    new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), STOP_LIMIT_MS + 5_000))),
  ]);
  clearTimeout(timer);
  const stopMs = Date.now() - sentAt;
  const output = launcher.output();
  const afterStopping = output.slice(output.indexOf('Stopping…'));
  // Helpers of the launcher (tsx's esbuild service) leave with it; give them a moment.
  const groupDeadline = Date.now() + 2_000;
  while (processGroupExists(pgid) && Date.now() < groupDeadline) await new Promise((resolve) => setTimeout(resolve, 50));
  return { exit, stopMs, output, afterStopping, groupLeft: processGroupExists(pgid) };
}

function noiseLines(afterStopping: string): string[] {
  return afterStopping
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line !== '' && line !== 'Stopping…' && line !== 'Stopped.')
    .filter((line) => /error|unavailable|exception|warn|timed out|^\s+at\s|"level":(40|50|60)/i.test(line));
}

async function expectStoppedCleanly(launcher: Launcher, label: string) {
  const stopped = await pressCtrlC(launcher);
  console.log(`launcher (${label}) stopped ${stopped.stopMs} ms after Ctrl-C`);
  // Compared with the output alongside, so a failure shows what the launcher printed.
  expect({ exit: stopped.exit, output: stopped.output }).toEqual({ exit: { code: 0, signal: null }, output: stopped.output });
  expect(stopped.afterStopping).toMatch(/^Stopping…/);
  expect(stopped.afterStopping).toContain('Stopped.');
  expect(noiseLines(stopped.afterStopping)).toEqual([]);
  expect(stopped.stopMs).toBeLessThan(STOP_LIMIT_MS);
  expect(stopped.groupLeft).toBe(false);
  expect(await acceptsConnections(temporalPort)).toBe(false);
  expect(await acceptsConnections(temporalUiPort)).toBe(false);
  expect(await acceptsConnections(apiPort)).toBe(false);
}

async function withTemporal<T>(use: (connection: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address: `127.0.0.1:${temporalPort}` });
  try {
    return await use(connection);
  } finally {
    await connection.close();
  }
}

it(
  'starts the whole product, and Ctrl-C stops it within seconds, without error output, leaving nothing running',
  async () => {
    const launcher = startLauncher();
    const apiUrl = await waitForApiUrl(launcher);
    expect(apiUrl).toBe(`http://127.0.0.1:${apiPort}`);
    // The console's URL comes first, then the API's.
    const output = launcher.output();
    expect(output).toContain(`Console:      http://127.0.0.1:${apiPort}/`);
    expect(output.indexOf('Console:')).toBeLessThan(output.indexOf('API:'));
    expect((await fetch(`${apiUrl}/health`)).status).toBe(200);
    await withTemporal((connection) =>
      connection.workflowService.registerNamespace({ namespace: PERSISTENCE_NAMESPACE, workflowExecutionRetentionPeriod: msToTs('1 day') }),
    );

    await expectStoppedCleanly(launcher, 'first start');
    expect(fs.existsSync(path.join(dataDir, 'temporal.sqlite'))).toBe(true);
  },
  START_LIMIT_MS + 30_000,
);

it(
  'starts again on the same data folder and ports (the Temporal SQLite file is reused) and stops cleanly again',
  async () => {
    const launcher = startLauncher();
    const apiUrl = await waitForApiUrl(launcher);
    expect((await fetch(`${apiUrl}/health`)).status).toBe(200);
    const described = await withTemporal((connection) => connection.workflowService.describeNamespace({ namespace: PERSISTENCE_NAMESPACE }));
    expect(described.namespaceInfo?.name).toBe(PERSISTENCE_NAMESPACE);

    await expectStoppedCleanly(launcher, 'restart');
  },
  START_LIMIT_MS + 30_000,
);
