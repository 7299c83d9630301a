import { Migration } from '@mikro-orm/migrations';

/**
 * Vacuum that keeps up with the engine (docs/ARCHITECTURE.md, "Write budget"). Each message leaves
 * three dead versions of its row, and the queue-like tables (sandbox receipts, parked receipts, the
 * counters' change log) are inserted into and deleted from all the time. With the defaults (a
 * vacuum after 20 % of a table is dead, throttled to a crawl) no vacuum of `messages` finished
 * during a million-message campaign: 1.9 million dead rows, and every claim, receipt and sweep
 * walked their index entries — the campaign slowed from 2,800 to 1,100 messages/s as it went.
 */
export class Migration20261130100000_autovacuum extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table messages set (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 10000,
  autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 10000);
alter table sandbox_receipts set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_cost_delay = 0);
alter table parked_receipts set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_cost_delay = 0);
alter table task_count_changes set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_cost_delay = 0);
`);
  }

  override async down(): Promise<void> {
    this.addSql(`
alter table messages reset (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_vacuum_cost_delay,
  autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);
alter table sandbox_receipts reset (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_vacuum_cost_delay);
alter table parked_receipts reset (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_vacuum_cost_delay);
alter table task_count_changes reset (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_vacuum_cost_delay);
`);
  }
}
