import { MikroORM } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { Migrator } from '@mikro-orm/migrations';
import { ENTITIES } from './entities';
import { Migration20261126000000_init } from './migrations/Migration20261126000000_init';
import { Migration20261127000000_engine } from './migrations/Migration20261127000000_engine';
import { Migration20261127100000_task_files } from './migrations/Migration20261127100000_task_files';
import { Migration20261128000000_hlr } from './migrations/Migration20261128000000_hlr';
import { Migration20261128100000_message_log } from './migrations/Migration20261128100000_message_log';
import { Migration20261128200000_links } from './migrations/Migration20261128200000_links';
import { Migration20261128300000_task_count_changes } from './migrations/Migration20261128300000_task_count_changes';
import { Migration20261129000000_smpp_parts } from './migrations/Migration20261129000000_smpp_parts';
import { Migration20261130000000_task_live_index } from './migrations/Migration20261130000000_task_live_index';
import { Migration20261130100000_autovacuum } from './migrations/Migration20261130100000_autovacuum';
import { Migration20261130200000_task_control_pending } from './migrations/Migration20261130200000_task_control_pending';
import { Migration20261130300000_dispatch_unowned } from './migrations/Migration20261130300000_dispatch_unowned';
import { Migration20261201000000_group_first_row } from './migrations/Migration20261201000000_group_first_row';
import { Migration20261202000000_tasks_created_at } from './migrations/Migration20261202000000_tasks_created_at';
import { Migration20261203000000_message_search } from './migrations/Migration20261203000000_message_search';

/** Migrations are listed explicitly so the same list works from .ts (tsx, Jest) and compiled .js. */
export const MIGRATIONS = [
  { name: 'Migration20261126000000_init', class: Migration20261126000000_init },
  { name: 'Migration20261127000000_engine', class: Migration20261127000000_engine },
  { name: 'Migration20261127100000_task_files', class: Migration20261127100000_task_files },
  { name: 'Migration20261128000000_hlr', class: Migration20261128000000_hlr },
  { name: 'Migration20261128100000_message_log', class: Migration20261128100000_message_log },
  { name: 'Migration20261128200000_links', class: Migration20261128200000_links },
  { name: 'Migration20261128300000_task_count_changes', class: Migration20261128300000_task_count_changes },
  { name: 'Migration20261129000000_smpp_parts', class: Migration20261129000000_smpp_parts },
  { name: 'Migration20261130000000_task_live_index', class: Migration20261130000000_task_live_index },
  { name: 'Migration20261130100000_autovacuum', class: Migration20261130100000_autovacuum },
  { name: 'Migration20261130200000_task_control_pending', class: Migration20261130200000_task_control_pending },
  { name: 'Migration20261130300000_dispatch_unowned', class: Migration20261130300000_dispatch_unowned },
  { name: 'Migration20261201000000_group_first_row', class: Migration20261201000000_group_first_row },
  { name: 'Migration20261202000000_tasks_created_at', class: Migration20261202000000_tasks_created_at },
  { name: 'Migration20261203000000_message_search', class: Migration20261203000000_message_search },
];

export async function openOrm(databaseUrl: string, poolMax = 10): Promise<MikroORM> {
  return MikroORM.init({
    clientUrl: databaseUrl,
    entities: ENTITIES,
    discovery: { disableDynamicFileAccess: true, requireEntitiesArray: true },
    extensions: [Migrator],
    migrations: { migrationsList: MIGRATIONS, transactional: true, allOrNothing: true, snapshot: false, silent: true },
    pool: { min: 0, max: poolMax },
    allowGlobalContext: false,
    debug: false,
  });
}

/** Arbitrary, fixed key of the advisory lock that serialises migrations across processes. */
const MIGRATION_LOCK_KEY = 727_001;

/** Applies every pending migration. Safe on every start of every process: an advisory lock makes
 * an API and several workers starting together migrate one after another. */
export async function migrate(databaseUrl: string): Promise<string[]> {
  const lock = new Client({ connectionString: databaseUrl });
  await lock.connect();
  try {
    await lock.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const orm = await openOrm(databaseUrl, 2);
    try {
      const applied = await orm.getMigrator().up();
      return applied.map((m) => m.name);
    } finally {
      await orm.close(true);
    }
  } finally {
    await lock.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lock.end();
  }
}
