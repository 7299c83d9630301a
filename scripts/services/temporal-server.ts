import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { TASK_SEARCH_ATTRIBUTES } from '../../core/search-attributes';
import { freePort } from '../../worker/ports';

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const LOCAL_BINARY = path.join(PROJECT_ROOT, '.tools', 'bin', 'temporal');
const STARTUP_TIMEOUT_MS = 60_000;
const STDERR_KEPT_CHARS = 8_000;

function onPath(command: string): string | undefined {
  const result = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  const found = result.stdout.trim();
  return result.status === 0 && found ? found : undefined;
}

/**
 * Finds the Temporal CLI in the order DESIGN.md gives: PATH, then `.tools/bin`, then a build from
 * its Go module when Go is installed. Undefined means "let the SDK download the dev server".
 */
export function ensureTemporalCli(log: (line: string) => void = console.log): string | undefined {
  const fromPath = onPath('temporal');
  if (fromPath) return fromPath;
  if (fs.existsSync(LOCAL_BINARY)) return LOCAL_BINARY;
  const go = onPath('go');
  if (!go) return undefined;
  log(`Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with Go into .tools/bin (first start only, a few minutes)…`);
  fs.mkdirSync(path.dirname(LOCAL_BINARY), { recursive: true });
  execFileSync(go, ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`], {
    env: { ...process.env, GOBIN: path.dirname(LOCAL_BINARY), GOFLAGS: '-mod=mod' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return LOCAL_BINARY;
}

export interface DevServerOptions {
  /** SQLite file for persistence; undefined keeps everything in memory (tests). */
  dbFilename?: string;
  /** Frontend port; undefined picks a free one. */
  port?: number;
  uiPort?: number;
  ui?: boolean;
  log?: (line: string) => void;
}

export interface RunningTemporalServer {
  /** Frontend `host:port`. */
  address: string;
  /** Stops the server and resolves once it has exited. */
  teardown(): Promise<void>;
}

/** WAL and no fsync: the dev server's SQLite file is for development, speed matters more. */
const SQLITE_PRAGMAS = ['--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=OFF'];

function searchAttributeArgs(): string[] {
  return TASK_SEARCH_ATTRIBUTES.flatMap(({ name, type }) => ['--search-attribute', `${name}=${TypedSearchAttributes.toMetadataType(type)}`]);
}

/**
 * Starts the Temporal CLI dev server with the project's search attributes registered: the CLI
 * binary under our own supervisor when there is one (see temporal-server-child.mjs), else the
 * SDK's downloaded dev server.
 */
export async function startTemporalDevServer(options: DevServerOptions = {}): Promise<RunningTemporalServer> {
  const binary = ensureTemporalCli(options.log);
  if (options.dbFilename) fs.mkdirSync(path.dirname(options.dbFilename), { recursive: true });
  return binary ? startSupervisedCli(binary, options) : startDownloadedDevServer(options);
}

async function startSupervisedCli(binary: string, options: DevServerOptions): Promise<RunningTemporalServer> {
  const host = '127.0.0.1';
  const port = options.port ?? (await freePort());
  // Otherwise the readiness check below could succeed against whatever already listens there.
  if (await acceptsConnections(host, port)) {
    throw new Error(`Cannot start the Temporal dev server: port ${port} is already in use (another Temporal server?). Set TEMPORAL_PORT or TEMPORAL_ADDRESS.`);
  }
  const args = [
    'server', 'start-dev',
    '--ip', host,
    '--port', String(port),
    ...(options.dbFilename ? ['--db-filename', options.dbFilename] : []),
    ...SQLITE_PRAGMAS,
    ...(options.ui ? (options.uiPort ? ['--ui-port', String(options.uiPort)] : []) : ['--headless']),
    ...searchAttributeArgs(),
    '--log-level', 'error',
  ];
  const supervisor = spawn(process.execPath, [path.join(__dirname, 'temporal-server-child.mjs'), binary, ...args], {
    detached: true,
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  supervisor.stderr.on('data', (chunk) => (stderr = (stderr + String(chunk)).slice(-STDERR_KEPT_CHARS)));
  const exited = new Promise<number | null>((resolve) => supervisor.once('exit', (code) => resolve(code)));
  const stop = async () => {
    supervisor.stdin.end();
    await exited;
  };

  const address = `${host}:${port}`;
  let startupOver = false;
  const exitedEarly = exited.then((code) => {
    if (startupOver) return;
    throw new Error(`The Temporal dev server exited while starting (code ${code}):\n${stderr.trim() || '(no output)'}`);
  });
  try {
    await Promise.race([waitForFrontend(address, port, STARTUP_TIMEOUT_MS, () => startupOver), exitedEarly]);
  } catch (error) {
    startupOver = true;
    await stop();
    throw error;
  } finally {
    startupOver = true;
  }
  return { address, teardown: stop };
}

function acceptsConnections(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => (socket.destroy(), resolve(false)));
  });
}

/** Waits for the port to open (cheap), then for the frontend's gRPC health check to answer SERVING. */
async function waitForFrontend(address: string, port: number, timeoutMs: number, givenUp: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pause = () => new Promise((resolve) => setTimeout(resolve, 100));
  while (!(await acceptsConnections('127.0.0.1', port))) {
    if (givenUp()) return;
    if (Date.now() > deadline) throw new Error(`The Temporal dev server did not open port ${port} within ${timeoutMs / 1000} s`);
    await pause();
  }
  let lastError: unknown;
  while (Date.now() <= deadline && !givenUp()) {
    const connection = await Connection.connect({ address, connectTimeout: '5s' }).catch((error: unknown) => ((lastError = error), undefined));
    if (connection) {
      try {
        const { status } = await connection.healthService.check({});
        if (status === 1 /* SERVING */) return;
        lastError = new Error(`health status ${status}`);
      } catch (error) {
        lastError = error;
      } finally {
        await connection.close();
      }
    }
    await pause();
  }
  throw new Error(`The Temporal dev server at ${address} did not answer within ${timeoutMs / 1000} s: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
}

/** No CLI and no Go: the SDK downloads the dev server (a normal internet-connected machine). It
 * runs in the launcher's process group, so Ctrl-C reaches it directly. */
async function startDownloadedDevServer(options: DevServerOptions): Promise<RunningTemporalServer> {
  // A dev dependency: loaded only on this path, so `npm start` with a CLI binary does not need it.
  // require, not import(): Jest's CommonJS runtime (test global setup) has no dynamic import.
  const { TestWorkflowEnvironment } = require('@temporalio/testing') as typeof import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'cached-download' },
      dbFilename: options.dbFilename,
      ip: '127.0.0.1',
      port: options.port,
      ui: options.ui ?? false,
      uiPort: options.uiPort,
      searchAttributes: TASK_SEARCH_ATTRIBUTES,
      extraArgs: SQLITE_PRAGMAS,
      log: { format: 'pretty', level: 'error' },
    },
  });
  return { address: env.address, teardown: () => env.teardown() };
}
