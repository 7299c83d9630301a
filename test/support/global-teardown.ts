import fs from 'node:fs';
import { dropDatabase } from '../../scripts/services/postgres';
import type { RunningTemporalServer } from '../../scripts/services/temporal-server';

export default async function globalTeardown(): Promise<void> {
  const g = globalThis as Record<string, any>;
  await (g.__temporal as RunningTemporalServer | undefined)?.teardown();
  const db = g.__testDatabase as { baseUrl: string; databaseName: string; originalUrl?: string } | undefined;
  if (db) {
    await dropDatabase(db.baseUrl, db.databaseName).catch(() => undefined);
    if (db.originalUrl) process.env.DATABASE_URL = db.originalUrl;
    else delete process.env.DATABASE_URL;
  }
  const embedded = g.__embeddedPostgres as { stop(): Promise<void>; dataDir: string } | undefined;
  if (embedded) {
    await embedded.stop();
    fs.rmSync(embedded.dataDir, { recursive: true, force: true });
  }
}
