import type { MikroORM } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { AppConfig } from '../core/config';
import type { HlrProvider } from '../core/hlr';

/** What the HTTP layer needs, injected so tests can build the app against their own services. */
export interface ApiDeps {
  config: AppConfig;
  pool: Pool;
  orm: MikroORM;
  temporal: Client;
  logger: Logger;
  /** Phone checks; default: the provider HLR_PROVIDER names. */
  hlr?: HlrProvider;
}
