import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { TASK_SEARCH_ATTRIBUTES } from '../../core/search-attributes';

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const LOCAL_BINARY = path.join(PROJECT_ROOT, '.tools', 'bin', 'temporal');

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

/** Starts the Temporal CLI dev server with the project's search attributes registered. */
export async function startTemporalDevServer(options: DevServerOptions = {}): Promise<TestWorkflowEnvironment> {
  const binary = ensureTemporalCli(options.log);
  if (options.dbFilename) fs.mkdirSync(path.dirname(options.dbFilename), { recursive: true });
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: binary ? { type: 'existing-path', path: binary } : { type: 'cached-download' },
      dbFilename: options.dbFilename,
      ip: '127.0.0.1',
      port: options.port,
      ui: options.ui ?? false,
      uiPort: options.uiPort,
      searchAttributes: TASK_SEARCH_ATTRIBUTES,
      // WAL and no fsync: the dev server's SQLite file is for development, speed matters more.
      extraArgs: ['--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=OFF'],
      log: { format: 'pretty', level: 'error' },
    },
  });
}
