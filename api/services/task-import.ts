import { randomUUID } from 'node:crypto';
import ExcelJS from 'exceljs';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Pool, PoolClient } from 'pg';
import type { z } from 'zod';
import { CHANNELS, type AppConfig } from '../../core/config';
import type { SendWindow } from '../../core/send-window';
import {
  FULL_CHANNEL_SLOTS,
  fullChannelColumn,
  taskFileColumns,
  VARIABLE_COLUMN_PREFIX,
  type TaskFileType,
} from '../../core/task-files';
import { NumberSet } from '../../core/number-set';
import { checkWorkbookFile } from '../../core/workbook-check';
import { ChannelSettingSchema, SenderSchema, TemplateSchema, type TemplateRecord } from '../../db/entities';
import { BULK_CHUNK, MessageCopy, refreshMessageStatistics, type NewMessage } from '../../db/messages';
import { recordTaskEvent } from '../../db/tasks';
import { taskWorkflowId } from '../../workflows/definitions';
import type { Principal } from '../auth';
import { HttpError, unprocessable, type ErrorDetail } from '../errors';
import { templateChannelSchema, type TemplateChannel } from '../schemas';
import { planRecipient, type PlannedRecipient } from './notifications';
import { UnreadableWorkbookError, worksheetRows } from './worksheet-rows';
import { channelSender, validateTemplate } from './templates';

/**
 * Turns an uploaded task file into a `created` task: the workbook is checked before it is parsed
 * (core/workbook-check.ts), read row by row with ExcelJS's streaming reader, each row validated and
 * planned exactly as an API send is (`planRecipient`), and written in batches — all in one
 * transaction, so the answer comes only when the task and every row are durable, and a crash
 * midway leaves nothing. Rows that cannot be sent are kept with their reasons (`errors.xlsx`).
 */

export interface ImportRequest {
  /** An existing task to fill (a `created` task whose file is replaced); otherwise a new one. */
  taskId?: string;
  type: TaskFileType;
  name: string;
  filePath: string;
  fileName: string;
  /** For `universal` files: the template of rows that name none. */
  templateId?: string;
  timezone: string;
  sendWindows: SendWindow[];
  startAt: Date | null;
  /** Sending lifetime of each message of single-channel files (and default of `full` files). */
  lifetimeMinutes: number;
  /** Rows' texts get counted short links (files whose rows carry their own texts). */
  shortenLinks: boolean;
  createdBy: Principal;
  onProgress?: (progress: ImportProgress) => void;
}

export interface ImportProgress {
  rowsRead: number;
  accepted: number;
  rejected: number;
  duplicates: number;
}

export interface ImportResult extends ImportProgress {
  taskId: string;
}

/** A row that will not be sent, as `errors.xlsx` lists it. */
export interface RowError {
  row: number;
  column: string | null;
  value: string | null;
  reason: string;
}

const PROGRESS_EVERY_ROWS = 1000;
/** Planned rows handed to the COPY stream at a time. */
const MESSAGES_PER_COPY_WRITE = 200;
const CHECKED_CHANNELS_KEPT = 256;
const E164 = /^\+[1-9]\d{1,14}$/;
/** The most rows a task file may hold: also the backstop against a zip whose directory lies
 * about its sizes (core/workbook-check.ts reads only the directory). */
export const MAX_TASK_FILE_ROWS = 2_000_000;

/** Which problems of a workbook are a 400 (not a workbook we can read) and which a 422. */
const FILE_PROBLEM_STATUS: Record<string, number> = { zip_bomb: 422 };

export async function importTaskFile(pool: Pool, em: EntityManager, config: AppConfig, req: ImportRequest): Promise<ImportResult> {
  const problem = await checkWorkbookFile(req.filePath);
  if (problem) {
    throw new HttpError(FILE_PROBLEM_STATUS[problem.code] ?? 400, problem.code, problem.message, [{ path: 'file', message: problem.message }]);
  }
  const rules = await loadSendingRules(em);
  const taskId = req.taskId ?? randomUUID();
  const client = await pool.connect();
  let broken = false;
  let importer: RowImporter | undefined;
  try {
    await client.query('begin');
    if (req.taskId) await clearTaskRows(client, req.taskId);
    else await insertTask(client, taskId, req);
    importer = new RowImporter(client, em, config, rules, taskId, req);
    await importer.readWorkbook(req.filePath);
    const result = await importer.finish();
    await client.query('commit');
    importer.committed();
    void refreshMessageStatistics(pool, result.accepted);
    return { taskId, ...result };
  } catch (error) {
    // A bad file leaves a healthy connection; anything else may have broken it.
    broken = !(error instanceof HttpError);
    await importer?.abandon();
    await client.query('rollback').catch(() => undefined);
    throw error instanceof StorageError ? error.cause : error;
  } finally {
    // A connection that failed mid-import may be dead: the pool drops it rather than reuse it.
    client.release(broken || undefined);
  }
}

/** A write that failed while rows were being read: not the file's fault (passed through as is). */
class StorageError extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

async function insertTask(client: PoolClient, taskId: string, req: ImportRequest): Promise<void> {
  await client.query(
    `insert into tasks (id, name, type, status, template_id, timezone, send_windows, start_at, workflow_id, created_by, file_name)
     values ($1, $2, $3, 'created', $4, $5, $6, $7, $8, $9, $10)`,
    [taskId, req.name, req.type, req.templateId ?? null, req.timezone, JSON.stringify(req.sendWindows), req.startAt, taskWorkflowId(taskId), req.createdBy.apiKeyId, req.fileName],
  );
}

/** A `created` task's file is replaced: its rows and their errors go (none was ever sent). */
async function clearTaskRows(client: PoolClient, taskId: string): Promise<void> {
  const { rows } = await client.query(`select status from tasks where id = $1 for update`, [taskId]);
  if (rows[0]?.status !== 'created') throw new HttpError(409, 'conflict', 'the file of a task can only be replaced before it starts');
  // The task's rows are found through message_search, which keeps the task index (and loses the
  // rows' entries by trigger when they go).
  const taskRows = 'select id from message_search where task_id = $1';
  await client.query(`delete from message_events where message_id in (${taskRows})`, [taskId]);
  await client.query(`delete from short_links where message_id in (${taskRows})`, [taskId]);
  await client.query(`delete from messages where id in (${taskRows})`, [taskId]);
  await client.query('delete from task_row_errors where task_id = $1', [taskId]);
}

interface SendingRules {
  enabled: Set<string>;
  /** `channel:name` of approved senders. */
  approved: Set<string>;
}

async function loadSendingRules(em: EntityManager): Promise<SendingRules> {
  const settings = await em.find(ChannelSettingSchema, {});
  const senders = await em.find(SenderSchema, { status: 'approved' });
  return {
    enabled: new Set(settings.filter((s) => s.enabled).map((s) => s.channel as string)),
    approved: new Set(senders.map((s) => `${s.channel}:${s.name}`)),
  };
}

/** The value of a cell as the text a user typed: numbers without exponent, rich text joined,
 * formulas by their result, hyperlinks by their text, dates in ISO 8601. */
export function cellText(value: ExcelJS.CellValue): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(Math.round(value)).toString() : String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') {
    if ('richText' in value) return value.richText.map((part) => part.text).join('').trim();
    if ('hyperlink' in value) return String((value as { text?: unknown }).text ?? value.hyperlink).trim();
    if ('result' in value) return cellText((value as { result?: ExcelJS.CellValue }).result ?? null);
    if ('error' in value) return String(value.error);
    if ('formula' in value || 'sharedFormula' in value) return '';
  }
  return String(value).trim();
}

type Cells = Map<string, string>;

/** A template of a universal file, checked once per import. */
type TemplateUse = { template: TemplateRecord; channels: TemplateChannel[] } | { problem: string };

class RowImporter {
  private columns: { name: string; index: number }[] = [];
  private headerRow = 0;
  /** Recipients met so far, per template and first channel. */
  private readonly seen = new Map<string, { phones: NumberSet; others: Set<string> }>();
  private readonly templates = new Map<string, TemplateUse>();
  private readonly checkedChannels = new Map<string, ReturnType<typeof templateChannelSchema.safeParse>>();
  private pendingMessages: NewMessage[] = [];
  private pendingErrors: RowError[] = [];
  private readonly copy: MessageCopy;
  private readonly progress: ImportProgress = { rowsRead: 0, accepted: 0, rejected: 0, duplicates: 0 };

  constructor(
    private readonly client: PoolClient,
    private readonly em: EntityManager,
    private readonly config: AppConfig,
    private readonly rules: SendingRules,
    private readonly taskId: string,
    private readonly req: ImportRequest,
  ) {
    this.copy = new MessageCopy(client);
  }

  /** Reads the first worksheet: its first non-empty row names the columns, every later row is a recipient. */
  async readWorkbook(filePath: string): Promise<void> {
    const read = { sheets: 0 };
    try {
      for await (const batch of worksheetRows(filePath, read)) {
        for (const row of batch) {
          if (this.headerRow === 0) {
            if (row.values.some((v) => cellText(v ?? null) !== '')) this.readHeader(row.values, row.number);
            continue;
          }
          await this.readRow(row.values, row.number);
        }
      }
    } catch (error) {
      if (!(error instanceof UnreadableWorkbookError)) throw error;
      throw new HttpError(400, 'corrupt', `the workbook cannot be read: ${error.message}`, [{ path: 'file', message: 'not a readable .xlsx workbook' }]);
    }
    const sheets = read.sheets;
    if (sheets === 0) throw unprocessable('the workbook has no worksheet', [{ path: 'file', message: 'no worksheet' }]);
    if (this.headerRow === 0) throw unprocessable('the first worksheet is empty: row 1 must hold the column names', [{ path: 'file', message: 'empty worksheet' }]);
    if (this.progress.rowsRead === 0) {
      throw unprocessable('the first worksheet has column names but no rows to send', [{ path: 'file', message: `no rows below the header (row ${this.headerRow})` }]);
    }
  }

  private readHeader(values: ExcelJS.CellValue[], rowNumber: number): void {
    this.headerRow = rowNumber;
    const names = new Map<string, number>();
    values.forEach((value, index) => {
      const name = cellText(value ?? null);
      if (name !== '' && !names.has(name)) names.set(name, index);
    });
    this.columns = [...names].map(([name, index]) => ({ name, index }));
    const required = taskFileColumns(this.req.type).filter((c) => c.required).map((c) => c.name);
    if (this.req.type === 'universal' && !this.req.templateId) required.push('templateId');
    const missing = required.filter((name) => !names.has(name));
    if (missing.length > 0) {
      throw unprocessable(
        `the file lacks required columns for a ${this.req.type} task: ${missing.join(', ')} (download GET /api/v1/task-files/${this.req.type})`,
        missing.map((name) => ({ path: `file.columns.${name}`, message: 'required column missing from row 1' })),
      );
    }
  }

  private async readRow(values: ExcelJS.CellValue[], rowNumber: number): Promise<void> {
    const cells: Cells = new Map();
    for (const { name, index } of this.columns) {
      const text = cellText(values[index] ?? null);
      if (text !== '') cells.set(name, text);
    }
    if (cells.size === 0) return; // blank rows are skipped, not errors
    this.progress.rowsRead += 1;
    if (this.progress.rowsRead > MAX_TASK_FILE_ROWS) {
      throw unprocessable(`the file has more than ${MAX_TASK_FILE_ROWS.toLocaleString('en')} rows: split it into several tasks`, [{ path: 'file', message: 'too many rows' }]);
    }
    const errors = await this.planRow(cells, rowNumber);
    if (errors.length > 0) {
      this.progress.rejected += 1;
      this.pendingErrors.push(...errors);
    }
    if (this.progress.rowsRead % PROGRESS_EVERY_ROWS === 0) this.req.onProgress?.({ ...this.progress });
    if (this.pendingMessages.length >= MESSAGES_PER_COPY_WRITE) await this.storage(() => this.copy.write(this.takeMessages()));
    if (this.pendingErrors.length >= BULK_CHUNK) await this.storage(() => this.writeErrors());
  }

  /** Validates a row and queues its messages; returns what is wrong with it (nothing queued then). */
  private async planRow(cells: Cells, row: number): Promise<RowError[]> {
    const error = (column: string | null, reason: string): RowError => ({ row, column, value: column ? (cells.get(column) ?? null) : null, reason });
    for (const [column, value] of cells) {
      if (value.includes('\u0000')) return [error(column, 'contains a NUL character (\\u0000), which cannot be stored')];
    }
    const send = await this.sendOf(cells, row);
    if ('errors' in send) return send.errors;
    const planned = planRecipient(
      {
        taskId: this.taskId,
        seq: this.progress.accepted + 1,
        channels: send.channels,
        template: send.template,
        recipient: send.recipient,
        variables: send.variables,
      },
      this.config,
    );
    if (planned.problems.length > 0) {
      return planned.problems.map((p) =>
        p.field === 'variables'
          ? error(null, p.message.replace(/missing values for: (.*)/, (_m, names: string) => `missing values for: ${names} (columns ${names.split(', ').map((n) => VARIABLE_COLUMN_PREFIX + n).join(', ')})`))
          : error(cells.has(p.field) ? p.field : null, p.message),
      );
    }
    const first = planned.rows[0]!;
    if (!this.firstSight(`${send.template.id ?? ''}|${first.channel}`, first.recipient)) {
      this.progress.duplicates += 1;
      return [];
    }
    this.progress.accepted += 1;
    this.pendingMessages.push(...planned.rows);
    return [];
  }

  /** False when this recipient was met before in the file. A million of them are held at once, so
   * an E.164 phone is kept as its number outside the heap (core/number-set.ts). */
  private firstSight(scope: string, recipient: string): boolean {
    let seen = this.seen.get(scope);
    if (!seen) this.seen.set(scope, (seen = { phones: new NumberSet(), others: new Set() }));
    if (E164.test(recipient)) return seen.phones.add(Number(recipient.slice(1)));
    if (seen.others.has(recipient)) return false;
    seen.others.add(recipient);
    return true;
  }

  /** What a row sends: its channels (from the row, or its template), its recipient and values. */
  private async sendOf(
    cells: Cells,
    row: number,
  ): Promise<{ channels: TemplateChannel[]; template: { id: string | null; name: string | null; variables: string[] }; recipient: PlannedRecipient; variables: Record<string, string> } | { errors: RowError[] }> {
    const type = this.req.type;
    const recipient: PlannedRecipient = {
      externalId: cells.get('externalId'),
      phone: cells.get('phone'),
      email: cells.get('email'),
      pushToken: cells.get('pushToken'),
      variables: {},
    };
    const lifetimeMinutes = this.req.lifetimeMinutes;
    const shortenLinks = this.req.shortenLinks;
    const noTemplate = { id: null, name: null, variables: [] as string[] };
    if (type === 'universal') {
      const templateId = cells.get('templateId') ?? this.req.templateId!;
      const use = await this.template(templateId);
      if ('problem' in use) return { errors: [{ row, column: cells.has('templateId') ? 'templateId' : null, value: templateId, reason: use.problem }] };
      const variables: Record<string, string> = {};
      for (const [column, value] of cells) if (column.startsWith(VARIABLE_COLUMN_PREFIX)) variables[column.slice(VARIABLE_COLUMN_PREFIX.length)] = value;
      return { channels: use.channels, template: { id: use.template.id, name: use.template.name, variables: use.template.variables }, recipient, variables };
    }
    // The other files carry their channels in the row: each becomes a channel configuration,
    // checked by the same schema as a template's, with `field → column` for the answer.
    const configs: { input: Record<string, unknown>; column: (field: string) => string }[] = [];
    const same = (field: string) => field;
    if (type === 'sms') {
      configs.push({ input: { channel: 'sms', sender: cells.get('sender'), text: cells.get('text'), lifetimeMinutes, shortenLinks }, column: same });
    } else if (type === 'sponsored') {
      configs.push({
        input: { channel: 'viber', sender: cells.get('sender'), text: cells.get('text'), imageUrl: cells.get('imageUrl'), buttonText: cells.get('buttonText'), buttonUrl: cells.get('buttonUrl'), lifetimeMinutes, shortenLinks },
        column: same,
      });
    } else if (type === 'chat') {
      configs.push({ input: { channel: 'chat', messenger: cells.get('messenger'), chatId: cells.get('chatId'), botId: cells.get('botId'), text: cells.get('text'), lifetimeMinutes, shortenLinks }, column: same });
      recipient.chatId = cells.get('chatId');
    } else if (type === 'whatsapp-chat') {
      const data = templateData(cells.get('templateData'));
      if ('problem' in data) return { errors: [{ row, column: 'templateData', value: cells.get('templateData') ?? null, reason: data.problem }] };
      configs.push({
        input: { channel: 'whatsapp', sender: cells.get('sender'), templateName: cells.get('templateName'), templateData: data.value, language: cells.get('language'), mediaUrl: cells.get('mediaUrl'), lifetimeMinutes },
        column: same,
      });
    } else {
      const errors: RowError[] = [];
      const listed = new Set<string>();
      for (let slot = 1; slot <= FULL_CHANNEL_SLOTS; slot++) {
        const slotColumn = fullChannelColumn(slot);
        const channel = cells.get(slotColumn);
        if (!channel) continue;
        if (!(CHANNELS as readonly string[]).includes(channel)) {
          errors.push({ row, column: slotColumn, value: channel, reason: `not a channel: one of ${CHANNELS.join(', ')}` });
          continue;
        }
        if (listed.has(channel)) {
          errors.push({ row, column: slotColumn, value: channel, reason: `channel ${channel} is listed twice` });
          continue;
        }
        listed.add(channel);
        const input: Record<string, unknown> = { channel, lifetimeMinutes, shortenLinks };
        for (const [column, value] of cells) {
          if (column.startsWith(`${channel}.`)) input[column.slice(channel.length + 1)] = value;
        }
        if (channel === 'whatsapp' && typeof input.templateData === 'string') {
          const data = templateData(input.templateData);
          if ('problem' in data) errors.push({ row, column: 'whatsapp.templateData', value: input.templateData, reason: data.problem });
          else input.templateData = data.value;
        }
        if (channel === 'chat' && typeof input.chatId === 'string') recipient.chatId = input.chatId;
        configs.push({ input, column: (field) => `${channel}.${field}` });
      }
      if (configs.length === 0 && errors.length === 0) errors.push({ row, column: fullChannelColumn(1), value: null, reason: 'name at least one channel to send on' });
      if (errors.length > 0) return { errors };
    }
    const channels: TemplateChannel[] = [];
    const errors: RowError[] = [];
    configs.forEach(({ input, column }, index) => {
      const parsed = this.checkChannel(dropEmpty(input));
      if (!parsed.success) {
        errors.push(
          ...parsed.error.issues.map((issue: z.core.$ZodIssue) => {
            const field = String(issue.path[0] ?? 'channel');
            const value = cells.get(column(field)) ?? null;
            return { row, column: column(field), value, reason: value === null && issue.code === 'invalid_type' ? 'required: the cell is empty' : issue.message };
          }),
        );
        return;
      }
      const channel: TemplateChannel = { ...parsed.data, mandatory: index === 0 };
      errors.push(...this.senderProblems(channel, row, cells, column));
      channels.push(channel);
    });
    if (errors.length > 0) return { errors };
    return { channels, template: noTemplate, recipient, variables: {} };
  }

  /** A channel's cells checked by the template schema; most files repeat the same sender and text
   * on every row, so recent answers are kept (a few hundred, by the cells' values). */
  private checkChannel(input: Record<string, unknown>): ReturnType<typeof templateChannelSchema.safeParse> {
    const key = JSON.stringify(input);
    let checked = this.checkedChannels.get(key);
    if (!checked) {
      if (this.checkedChannels.size >= CHECKED_CHANNELS_KEPT) this.checkedChannels.clear();
      checked = templateChannelSchema.safeParse(input);
      this.checkedChannels.set(key, checked);
    }
    return checked;
  }

  /** The channel must be enabled and its sender approved, as for a template. */
  private senderProblems(channel: TemplateChannel, row: number, cells: Cells, column: (field: string) => string): RowError[] {
    const problems: RowError[] = [];
    if (!this.rules.enabled.has(channel.channel)) {
      problems.push({ row, column: null, value: null, reason: `channel ${channel.channel} is disabled (an admin can enable it)` });
    }
    const sender = channelSender(channel);
    if (sender !== null && !this.rules.approved.has(`${channel.channel}:${sender}`)) {
      problems.push({ row, column: column('sender'), value: cells.get(column('sender')) ?? sender, reason: `sender "${sender}" is not approved for ${channel.channel}` });
    }
    return problems;
  }

  private async template(templateId: string): Promise<TemplateUse> {
    const known = this.templates.get(templateId);
    if (known) return known;
    let use: TemplateUse;
    if (!/^[0-9a-f-]{36}$/i.test(templateId)) use = { problem: `"${templateId}" is not a template id` };
    else {
      const template = await this.em.findOne(TemplateSchema, { id: templateId.toLowerCase() });
      if (!template) use = { problem: `template ${templateId} not found` };
      else {
        try {
          const channels = await validateTemplate(this.em, {
            name: template.name,
            timezone: template.timezone,
            sendWindows: template.sendWindows,
            channels: template.channels as unknown as TemplateChannel[],
          });
          use = { template, channels };
        } catch (error) {
          const details = error instanceof HttpError ? error.details.map((d: ErrorDetail) => d.message).join('; ') : String(error);
          use = { problem: `template ${templateId} cannot be used: ${details}` };
        }
      }
    }
    this.templates.set(templateId, use);
    return use;
  }

  /** A failed write is the database's problem, not the file's: kept apart from file errors. */
  private async storage(write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (error) {
      throw new StorageError(error);
    }
  }

  private takeMessages(): NewMessage[] {
    const rows = this.pendingMessages;
    this.pendingMessages = [];
    return rows;
  }

  /** Row errors go in between message COPYs (one statement at a time on a connection). */
  private async writeErrors(): Promise<void> {
    await this.copy.end();
    const errors = this.pendingErrors;
    this.pendingErrors = [];
    await this.client.query(
      `insert into task_row_errors (task_id, row_number, column_name, value, reason)
       select $1, * from unnest($2::int[], $3::text[], $4::text[], $5::text[])`,
      [this.taskId, errors.map((e) => e.row), errors.map((e) => e.column), errors.map((e) => (e.value === null ? null : e.value.slice(0, 1000))), errors.map((e) => e.reason)],
    );
  }

  /** The import's transaction committed. */
  committed(): void {
    this.copy.committed();
  }

  async abandon(): Promise<void> {
    await this.copy.abort();
  }

  async finish(): Promise<ImportProgress> {
    await this.storage(async () => {
      await this.copy.write(this.takeMessages());
      await this.copy.end();
      if (this.pendingErrors.length > 0) await this.writeErrors();
    });
    await this.client.query('update tasks set total = $2, rejected = $3, duplicates = $4, file_name = $5 where id = $1', [
      this.taskId,
      this.progress.accepted,
      this.progress.rejected,
      this.progress.duplicates,
      this.req.fileName,
    ]);
    await recordTaskEvent(this.client, this.taskId, this.req.taskId ? 'file_replaced' : 'created', {
      source: 'file',
      type: this.req.type,
      file: this.req.fileName,
      rows: this.progress.rowsRead,
      accepted: this.progress.accepted,
      rejected: this.progress.rejected,
      duplicates: this.progress.duplicates,
      by: { apiKeyId: this.req.createdBy.apiKeyId, name: this.req.createdBy.keyName },
    });
    this.req.onProgress?.({ ...this.progress });
    return { ...this.progress };
  }
}

/** `{"1":"Ann"}` → its values as strings; empty → {}. */
function templateData(raw: string | undefined): { value: Record<string, string> } | { problem: string } {
  if (!raw) return { value: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { problem: 'not JSON: write the parameters as {"1":"Ann","2":"A-1"}' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { problem: 'must be a JSON object, e.g. {"1":"Ann"}' };
  return { value: Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)])) };
}

function dropEmpty(input: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined && v !== ''));
}

