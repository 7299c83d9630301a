import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { migrate } from '../../db/orm';
import { createDatabase, startEmbeddedPostgres } from '../../scripts/services/postgres';
import { startTemporalDevServer } from '../../scripts/services/temporal-server';

/**
 * Integration tests get a Temporal dev server on a free port and a database of their own:
 * created next to DATABASE_URL's when it is set, else inside an embedded PostgreSQL.
 */
export default async function globalSetup(): Promise<void> {
  const g = globalThis as Record<string, unknown>;
  const databaseName = `notif_test_${process.pid}`;
  let baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'notif-pg-'));
    const pg = await startEmbeddedPostgres(dataDir);
    g.__embeddedPostgres = { stop: pg.stop, dataDir };
    baseUrl = pg.url;
  }
  const testUrl = await createDatabase(baseUrl, databaseName);
  await migrate(testUrl);
  g.__testDatabase = { baseUrl, databaseName, originalUrl: process.env.DATABASE_URL };
  process.env.DATABASE_URL = testUrl;

  const temporal = await startTemporalDevServer();
  g.__temporal = temporal;
  process.env.TEMPORAL_ADDRESS = temporal.address;
}
