import fs from 'node:fs';
import os from 'node:os';
import type { Request, Response } from 'express';
import ExcelJS from 'exceljs';
import multer from 'multer';
import { z } from 'zod';
import { validateSendWindows } from '../../core/send-window';
import { FINAL_STATUSES, TASK_STATUSES } from '../../core/status';
import { TASK_FILE_TYPES } from '../../core/task-files';
import { TemplateSchema } from '../../db/entities';
import { STREAM_TASK_TYPE } from '../../db/scope';
import {
  controlTask,
  countByStatus,
  getTask,
  listTasks,
  recordTaskEvent,
  startTask,
  TASK_CATEGORIES,
  TaskTransitionError,
  type Actor,
  type TaskRow,
} from '../../db/tasks';
import { signalTaskControl, startTaskWorkflow, temporalUiUrl } from '../../workflows/client';
import type { Principal } from '../auth';
import type { ApiDeps } from '../deps';
import { badRequest, conflict, HttpError, notFound, unprocessable, zodDetails } from '../errors';
import { booleanParam, errorSchema, listResponse, nulCharacterDetails, paginationQuery, type ApiRegistry } from '../routing';
import { MAX_LIFETIME_MINUTES, sendWindowSchema } from '../schemas';
import { XLSX_CONTENT_TYPE } from '../services/task-files';
import { importTaskFile } from '../services/task-import';
import { canonicalTimeZone, windowProblemDetail } from '../services/templates';
import { UploadProgress } from '../services/upload-progress';

const taskSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  type: z.string(),
  status: z.enum(TASK_STATUSES),
  statusReason: z.string().nullable(),
  templateId: z.uuid().nullable(),
  fileName: z.string().nullable(),
  timezone: z.string(),
  sendWindows: z.array(z.object({ from: z.string(), to: z.string() })),
  startAt: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  total: z.number().int(),
  rejected: z.number().int(),
  duplicates: z.number().int(),
  counts: z.record(z.string(), z.number().int()),
  workflowId: z.string(),
  temporalUiUrl: z.string(),
});

/** A form field holding JSON (multipart carries text only). */
const jsonField = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value, ctx) => {
    if (typeof value !== 'string') return value;
    if (value.trim() === '') return undefined;
    try {
      return JSON.parse(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not valid JSON', input: value });
      return z.NEVER;
    }
  }, schema);

/** The time limiter and schedule, as a form or a JSON body gives them. */
const scheduleFields = {
  timezone: z.string().trim().min(1).max(100).optional(),
  sendWindows: jsonField(z.array(sendWindowSchema).max(24, 'at most 24 windows')).optional(),
  startAt: z.iso.datetime({ offset: true, error: 'an ISO 8601 time, e.g. 2026-12-01T09:00:00+03:00' }).nullable().optional(),
};
const createTaskFields = z.strictObject({
  name: z.string().trim().min(1, 'must not be empty').max(200),
  type: z.enum(TASK_FILE_TYPES, { error: `one of ${TASK_FILE_TYPES.join(', ')}` }),
  templateId: z.uuid().optional(),
  lifetimeMinutes: z.coerce.number().positive('must be greater than 0').max(MAX_LIFETIME_MINUTES).default(1440),
  /** Each http(s) URL in the rows' texts becomes a counted short link (as a template's `shortenLinks`). */
  shortenLinks: booleanParam.optional(),
  ...scheduleFields,
});
const editTaskFields = z.strictObject({ name: createTaskFields.shape.name.optional(), shortenLinks: createTaskFields.shape.shortenLinks, ...scheduleFields });

const listQuery = z.object({
  name: z.string().max(200).optional(),
  createdFrom: z.iso.datetime({ offset: true }).optional(),
  createdTo: z.iso.datetime({ offset: true }).optional(),
  category: z.enum(Object.keys(TASK_CATEGORIES) as [keyof typeof TASK_CATEGORIES]).optional(),
  type: z.enum([...TASK_FILE_TYPES, STREAM_TASK_TYPE]).optional(),
  ...paginationQuery,
});

/** Time steps of a task's progress chart (GET /tasks/:id/progress). */
const PROGRESS_BUCKETS = 60;

const actor = (principal: Principal | undefined): Actor | undefined => (principal ? { apiKeyId: principal.apiKeyId, name: principal.keyName } : undefined);

/** Checks and canonicalises a time limiter (422 naming the field). */
function checkedSchedule(fields: { timezone?: string; sendWindows?: { from: string; to: string }[] }, current?: { timezone: string; sendWindows: { from: string; to: string }[] }) {
  const timezone = fields.timezone ?? current?.timezone ?? 'UTC';
  const sendWindows = fields.sendWindows ?? current?.sendWindows ?? [];
  const problems = validateSendWindows(sendWindows, timezone).map(windowProblemDetail);
  if (problems.length > 0) throw unprocessable('the time limiter cannot be used as given', problems);
  return { timezone: canonicalTimeZone(timezone), sendWindows };
}

export function registerTaskRoutes(api: ApiRegistry, deps: ApiDeps): void {
  const progress = new UploadProgress();
  const upload = multer({
    dest: os.tmpdir(),
    limits: { fileSize: deps.config.taskUploadMaxBytes, files: 1, fields: 20, fieldSize: 64 * 1024 },
  }).single('file');

  /** Reads a multipart request (the file to a temporary path); its text fields land in req.body. */
  const readMultipart = (req: Request, res: Response) =>
    new Promise<Express.Multer.File | undefined>((resolve, reject) =>
      upload(req, res, (error: unknown) => {
        if (!error) return resolve(req.file);
        if (error instanceof multer.MulterError) {
          if (error.code === 'LIMIT_FILE_SIZE') {
            const mb = Math.round(deps.config.taskUploadMaxBytes / 1024 / 1024);
            return reject(new HttpError(413, 'payload_too_large', `the file is larger than ${mb} MB (TASK_UPLOAD_MAX_MB)`, [{ path: 'file', message: 'too large' }]));
          }
          return reject(badRequest(`malformed upload: ${error.message}`, [{ path: error.field ?? 'body', message: error.message }]));
        }
        reject(badRequest(`malformed upload: ${(error as Error).message}`, [{ path: 'body', message: 'not a readable multipart/form-data body' }]));
      }),
    );

  /** Form fields, checked like a JSON body: NUL characters, then the schema (400 naming the field). */
  const formFields = <T extends z.ZodType>(schema: T, body: unknown): z.infer<T> => {
    const nul = nulCharacterDetails(body ?? {}, 'body');
    if (nul.length > 0) throw badRequest('the request contains a NUL character (\\u0000), which cannot be stored', nul);
    const parsed = schema.safeParse(body ?? {});
    if (!parsed.success) throw badRequest('invalid task fields', zodDetails(parsed.error));
    return parsed.data;
  };

  const loadTask = async (id: string | undefined): Promise<TaskRow> => {
    const task = id && z.uuid().safeParse(id).success ? await getTask(deps.pool, id) : undefined;
    if (!task) throw notFound(`task ${id}`);
    return task;
  };
  const present = (task: TaskRow, counts: Record<string, number>) => ({
    id: task.id,
    name: task.name,
    type: task.type,
    status: task.status,
    statusReason: task.statusReason,
    templateId: task.templateId,
    fileName: task.fileName,
    timezone: task.timezone,
    sendWindows: task.sendWindows,
    startAt: task.startAt?.toISOString() ?? null,
    createdAt: task.createdAt.toISOString(),
    startedAt: task.startedAt?.toISOString() ?? null,
    finishedAt: task.finishedAt?.toISOString() ?? null,
    total: task.total,
    rejected: task.rejected,
    duplicates: task.duplicates,
    counts,
    workflowId: task.workflowId,
    temporalUiUrl: temporalUiUrl(deps.config, task.workflowId),
  });
  /** A campaign's workflow acts on its row at once when told; API sends need no message. */
  const tellWorkflow = async (req: Request, task: { id: string; type: string; workflowId: string }) => {
    if (task.type === STREAM_TASK_TYPE) return;
    const told = await signalTaskControl(deps.temporal, task.workflowId).catch((error) => {
      req.log.warn({ err: error, taskId: task.id }, 'task workflow not signalled; it reads the task row at its next sweep');
      return true;
    });
    if (!told) req.log.info({ taskId: task.id }, 'task has no workflow to tell (not started, or gone: the supervisor restarts or fails it)');
  };
  const transition = async <T>(taskId: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      if (error instanceof TaskTransitionError) throw error.notFound ? notFound(`task ${taskId}`) : conflict(error.message);
      throw error;
    }
  };

  /** Reads an uploaded file into a task (new, or a created task's replacement), reporting progress. */
  const importUpload = async (
    req: Request,
    file: Express.Multer.File,
    task: { taskId?: string; type: (typeof TASK_FILE_TYPES)[number]; name: string; templateId?: string; timezone: string; sendWindows: { from: string; to: string }[]; startAt: Date | null; lifetimeMinutes: number; shortenLinks: boolean },
  ) => {
    const uploadId = req.get('x-upload-id')?.trim().slice(0, 100) || undefined;
    if (uploadId) progress.begin(uploadId);
    try {
      const result = await importTaskFile(deps.pool, deps.orm.em.fork(), deps.config, {
        ...task,
        filePath: file.path,
        fileName: file.originalname,
        createdBy: req.principal!,
        onProgress: uploadId ? (p) => progress.update(uploadId, p) : undefined,
      });
      if (uploadId) progress.finish(uploadId, { taskId: result.taskId });
      return result;
    } catch (error) {
      if (uploadId) progress.finish(uploadId, { error: error instanceof Error ? error.message : String(error) });
      throw error;
    }
  };

  api.route(
    {
      method: 'post',
      path: '/api/v1/tasks',
      summary:
        'Create a campaign from a task file (multipart: name, type, file; optional templateId, sendWindows JSON, timezone, startAt, lifetimeMinutes, shortenLinks; header X-Upload-Id to follow progress). Answers when the task and every row are stored',
      tag: 'Tasks',
      auth: 'operator',
      requestContent: {
        'multipart/form-data': {
          schema: {
            type: 'object',
            required: ['name', 'type', 'file'],
            properties: {
              name: { type: 'string' },
              type: { type: 'string', enum: [...TASK_FILE_TYPES] },
              file: { type: 'string', format: 'binary' },
              templateId: { type: 'string', format: 'uuid', description: 'universal files: the template of rows that name none' },
              sendWindows: { type: 'string', description: 'JSON, e.g. [{"from":"09:00","to":"21:00"}]' },
              timezone: { type: 'string', example: 'Europe/Moscow' },
              startAt: { type: 'string', format: 'date-time' },
              lifetimeMinutes: { type: 'number', description: 'sending lifetime of each message (default 1440)' },
              shortenLinks: { type: 'string', enum: ['true', 'false'], description: "true: each http(s) URL in the rows' texts becomes a counted short link (default false)" },
            },
          },
        },
      },
      responses: {
        201: {
          description: 'Created: the rows that can be sent are stored; the others are listed by errors.xlsx',
          schema: z.object({ id: z.uuid(), name: z.string(), status: z.literal('created'), total: z.number().int(), rejected: z.number().int(), duplicates: z.number().int() }),
        },
        400: { description: 'Not a readable .xlsx workbook (CSV, .xls, password-protected, corrupt), or bad fields', schema: errorSchema },
        413: { description: 'Larger than TASK_UPLOAD_MAX_MB', schema: errorSchema },
        422: { description: 'Required columns missing, no rows, a zip bomb, an unknown template, a bad time limiter', schema: errorSchema },
      },
    },
    async ({ req, res }) => {
      if (!req.is('multipart/form-data')) throw badRequest('send the task as multipart/form-data with a file field', [{ path: 'file', message: 'required' }]);
      const file = await readMultipart(req, res);
      try {
        const fields = formFields(createTaskFields, req.body);
        if (!file) throw badRequest('a task file is required', [{ path: 'file', message: 'required: the .xlsx task file' }]);
        const schedule = checkedSchedule(fields);
        if (fields.templateId && !(await deps.orm.em.fork().findOne(TemplateSchema, { id: fields.templateId }))) {
          throw unprocessable(`template ${fields.templateId} not found`, [{ path: 'templateId', message: 'no such template' }]);
        }
        const result = await importUpload(req, file, {
          type: fields.type,
          name: fields.name,
          templateId: fields.templateId,
          ...schedule,
          startAt: fields.startAt ? new Date(fields.startAt) : null,
          lifetimeMinutes: fields.lifetimeMinutes,
          shortenLinks: fields.shortenLinks ?? false,
        });
        res.status(201).json({ id: result.taskId, name: fields.name, status: 'created', total: result.accepted, rejected: result.rejected, duplicates: result.duplicates });
      } finally {
        if (file) fs.promises.unlink(file.path).catch(() => undefined);
      }
    },
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/uploads/:uploadId',
      summary: 'Progress of an upload sent with X-Upload-Id: rows read, accepted, rejected and repeated so far',
      tag: 'Tasks',
      auth: 'operator',
      responses: {
        200: {
          description: 'Progress',
          schema: z.object({
            uploadId: z.string(),
            state: z.enum(['reading', 'done', 'failed']),
            rowsRead: z.number().int(),
            accepted: z.number().int(),
            rejected: z.number().int(),
            duplicates: z.number().int(),
            taskId: z.string().nullable(),
            error: z.string().nullable(),
            startedAt: z.string(),
            updatedAt: z.string(),
          }),
        },
        404: { description: 'Unknown upload (or finished more than 15 minutes ago)', schema: errorSchema },
      },
    },
    async ({ res, params }) => {
      const state = progress.get(params.uploadId!);
      if (!state) throw notFound(`upload ${params.uploadId}`);
      res.json(state);
    },
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/tasks',
      summary: 'Tasks, newest first: by part of the name, creation period and category (created, in_progress, paused, completed = ended)',
      tag: 'Tasks',
      auth: 'operator',
      query: listQuery,
      responses: { 200: { description: 'A page of tasks with their counts', schema: listResponse(taskSchema) }, 400: { description: 'Bad filter', schema: errorSchema } },
    },
    async ({ res, query }) => {
      const page = await listTasks(deps.pool, {
        name: query.name,
        createdFrom: query.createdFrom ? new Date(query.createdFrom) : undefined,
        createdTo: query.createdTo ? new Date(query.createdTo) : undefined,
        category: query.category,
        type: query.type,
        page: query.page,
        pageSize: query.pageSize,
      });
      res.json({ items: page.items.map((t) => present(t, t.counts)), total: page.total, page: query.page, pageSize: query.pageSize });
    },
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/tasks/:id',
      summary: 'A task with its per-status message counts and its Temporal UI link',
      tag: 'Tasks',
      auth: 'operator',
      responses: { 200: { description: 'The task', schema: taskSchema }, 404: { description: 'Unknown task', schema: errorSchema } },
    },
    async ({ res, params }) => {
      const task = await loadTask(params.id);
      res.json(present(task, await countByStatus(deps.pool, task.id)));
    },
  );

  api.route(
    {
      method: 'patch',
      path: '/api/v1/tasks/:id',
      summary:
        'Edit a task: name and time limiter (sendWindows, timezone) at any time — a running campaign follows the new windows at once; startAt and the file (multipart) only before it starts',
      tag: 'Tasks',
      auth: 'operator',
      requestContent: {
        'application/json': { schema: { type: 'object', properties: { name: { type: 'string' }, sendWindows: { type: 'array' }, timezone: { type: 'string' }, startAt: { type: 'string' } } } },
        'multipart/form-data': { schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' }, name: { type: 'string' }, sendWindows: { type: 'string' }, timezone: { type: 'string' }, startAt: { type: 'string' } } } },
      },
      responses: {
        200: { description: 'The task as it is now', schema: taskSchema },
        404: { description: 'Unknown task', schema: errorSchema },
        409: { description: 'startAt or the file of a task that has started', schema: errorSchema },
        422: { description: 'A bad time limiter, or a file that cannot be used', schema: errorSchema },
      },
    },
    async ({ req, res, params }) => {
      const task = await loadTask(params.id);
      const file = req.is('multipart/form-data') ? await readMultipart(req, res) : undefined;
      try {
        const fields = formFields(editTaskFields, req.body);
        const schedule = checkedSchedule(fields, task);
        if ((fields.startAt !== undefined || file) && task.status !== 'created') {
          throw conflict(`${file ? 'the file' : 'startAt'} of a task can only be changed before it starts (it is ${task.status.replace('_', ' ')})`);
        }
        if (file) {
          await importUpload(req, file, {
            taskId: task.id,
            type: task.type as (typeof TASK_FILE_TYPES)[number],
            name: fields.name ?? task.name,
            templateId: task.templateId ?? undefined,
            ...schedule,
            startAt: task.startAt,
            lifetimeMinutes: 1440,
            shortenLinks: fields.shortenLinks ?? false,
          });
        }
        const changed = Object.keys(fields);
        await deps.pool.query(
          `update tasks set name = coalesce($2, name), timezone = $3, send_windows = $4,
             start_at = case when $5 then $6::timestamptz else start_at end
           where id = $1`,
          [task.id, fields.name ?? null, schedule.timezone, JSON.stringify(schedule.sendWindows), fields.startAt !== undefined, fields.startAt ?? null],
        );
        if (changed.length > 0) await recordTaskEvent(deps.pool, task.id, 'edited', { fields: changed, by: actor(req.principal) });
        // A running campaign reads its windows from the row at each sweep: wake it to do so now.
        if (['in_progress', 'paused'].includes(task.status)) await tellWorkflow(req, task);
        const now = (await getTask(deps.pool, task.id))!;
        res.json(present(now, await countByStatus(deps.pool, task.id)));
      } finally {
        if (file) fs.promises.unlink(file.path).catch(() => undefined);
      }
    },
  );

  api.route(
    {
      method: 'delete',
      path: '/api/v1/tasks/:id',
      summary: 'Delete a task: a task not yet ended is canceled first; its messages stay in the message log',
      tag: 'Tasks',
      auth: 'operator',
      responses: {
        200: { description: 'Deleted', schema: z.object({ id: z.uuid(), status: z.enum(TASK_STATUSES), deleted: z.literal(true) }) },
        404: { description: 'Unknown task', schema: errorSchema },
      },
    },
    async ({ req, res, params }) => {
      const task = await loadTask(params.id);
      let status = task.status;
      if (['created', 'in_progress', 'paused'].includes(task.status)) {
        status = (await transition(task.id, () => controlTask(deps.pool, task.id, 'cancel', { by: actor(req.principal) }))).status;
        await tellWorkflow(req, task);
      }
      await deps.pool.query('update tasks set deleted_at = now() where id = $1', [task.id]);
      await recordTaskEvent(deps.pool, task.id, 'deleted', { by: actor(req.principal) });
      res.json({ id: task.id, status, deleted: true });
    },
  );

  api.route(
    {
      method: 'post',
      path: '/api/v1/tasks/:id/start',
      summary: 'Start a created campaign: it runs at once, or waits for its startAt and its send window',
      tag: 'Tasks',
      auth: 'operator',
      responses: {
        200: { description: 'Started', schema: z.object({ status: z.string() }) },
        404: { description: 'Unknown task', schema: errorSchema },
        409: { description: 'Not a created task', schema: errorSchema },
      },
    },
    async ({ req, res, params }) => {
      const task = await loadTask(params.id);
      const started = await transition(task.id, () => startTask(deps.pool, task.id, actor(req.principal)));
      // The row says in_progress from now on; if the start does not reach Temporal, the worker's
      // supervisor starts the workflow (a campaign whose workflow is missing).
      await startTaskWorkflow(deps.temporal, deps.config, { id: task.id, name: started.name, templateId: started.templateId }).catch((error) =>
        req.log.warn({ err: error, taskId: task.id }, 'task workflow not started; the supervisor will start it'),
      );
      res.json({ status: 'in_progress' });
    },
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/tasks/:id/history',
      summary: "The task's timeline (created by whom with how many rows, started, waited for window, paused, resumed, completed…) with per-status counts",
      tag: 'Tasks',
      auth: 'operator',
      responses: {
        200: {
          description: 'Timeline',
          schema: z.object({
            taskId: z.uuid(),
            events: z.array(z.object({ kind: z.string(), at: z.string(), detail: z.record(z.string(), z.unknown()) })),
            counts: z.record(z.string(), z.number().int()),
          }),
        },
        404: { description: 'Unknown task', schema: errorSchema },
      },
    },
    async ({ res, params }) => {
      const task = await loadTask(params.id);
      const { rows } = await deps.pool.query('select kind, detail, created_at from task_events where task_id = $1 order by id', [task.id]);
      res.json({
        taskId: task.id,
        events: rows.map((r) => ({ kind: r.kind, at: r.created_at.toISOString(), detail: r.detail })),
        counts: await countByStatus(deps.pool, task.id),
      });
    },
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/tasks/:id/progress',
      summary: `The task's statuses over time: for ${PROGRESS_BUCKETS} equal steps from its start (or creation) to its last status change (now while it runs), how many of its messages had reached each final status by the end of the step (cumulative), with the current per-status counts`,
      tag: 'Tasks',
      auth: 'operator',
      responses: {
        200: {
          description: 'Cumulative final-status counts per time step',
          schema: z.object({
            taskId: z.uuid(),
            from: z.string(),
            to: z.string(),
            statuses: z.array(z.enum(FINAL_STATUSES as [string, ...string[]])),
            buckets: z.array(z.object({ at: z.string(), counts: z.record(z.string(), z.number().int()) })),
            counts: z.record(z.string(), z.number().int()),
          }),
        },
        404: { description: 'Unknown task', schema: errorSchema },
      },
    },
    async ({ res, params }) => {
      if (!params.id || !z.uuid().safeParse(params.id).success) throw notFound(`task ${params.id}`);
      // One statement: the bounds from the task row, one grouped pass over the task's messages
      // (status, step; found by task through message_search), cumulated per status over every step
      // in SQL. No row: no such task.
      const { rows } = await deps.pool.query(
        `with t as (
           select coalesce(started_at, created_at) as lo, status in ('completed', 'canceled', 'failed') as ended
           from tasks where id = $1 and deleted_at is null
         ), b as (
           select lo, greatest(lo + interval '1 second',
                    case when ended then coalesce((select max(m.status_at) from message_search s join messages m on m.id = s.id where s.task_id = $1), lo) else now() end) as hi
           from t
         ), g as (
           select m.status,
                  least($2::int, greatest(1, width_bucket(extract(epoch from m.status_at), extract(epoch from b.lo), extract(epoch from b.hi), $2::int))) as step,
                  count(*)::int as n
           from message_search s join messages m on m.id = s.id cross join b where s.task_id = $1 group by 1, 2
         ), cum as (
           select i, s, (sum(coalesce(g.n, 0)) over (partition by s order by i))::int as n
           from generate_series(1, $2::int) as i cross join unnest($3::text[]) as s
           left join g on g.step = i and g.status = s
         )
         select b.lo, b.hi,
           (select json_agg(json_build_object('at', b.lo + (b.hi - b.lo) * x.i / $2::int, 'counts', x.counts) order by x.i)
              from (select i, json_object_agg(s, n) as counts from cum group by i) x) as buckets,
           (select coalesce(json_object_agg(status, n), '{}'::json) from (select status, sum(n)::int as n from g group by status) y) as counts
         from b`,
        [params.id, PROGRESS_BUCKETS, FINAL_STATUSES],
      );
      const row = rows[0];
      if (!row) throw notFound(`task ${params.id}`);
      res.json({
        taskId: params.id,
        from: row.lo.toISOString(),
        to: row.hi.toISOString(),
        statuses: FINAL_STATUSES,
        buckets: (row.buckets as { at: string; counts: Record<string, number> }[]).map((bucket) => ({ at: new Date(bucket.at).toISOString(), counts: bucket.counts })),
        counts: row.counts,
      });
    },
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/tasks/:id/errors.xlsx',
      summary: 'The rows of the task file that are not sent: row number, column, value and reason',
      tag: 'Tasks',
      auth: 'operator',
      responses: { 200: { description: 'The workbook', contentType: XLSX_CONTENT_TYPE }, 404: { description: 'Unknown task', schema: errorSchema } },
    },
    async ({ res, params }) => {
      const task = await loadTask(params.id);
      res.setHeader('Content-Type', XLSX_CONTENT_TYPE);
      res.setHeader('Content-Disposition', `attachment; filename="task-${task.id}-errors.xlsx"`);
      // Streamed page by page: a file of a million bad rows never sits in memory.
      const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: res, useStyles: true, useSharedStrings: false });
      const sheet = workbook.addWorksheet('Errors', { views: [{ state: 'frozen', ySplit: 1 }] });
      sheet.columns = [
        { header: 'Row', key: 'row', width: 8 },
        { header: 'Column', key: 'column', width: 22 },
        { header: 'Value', key: 'value', width: 40 },
        { header: 'Reason', key: 'reason', width: 90 },
      ];
      sheet.getRow(1).font = { bold: true };
      sheet.autoFilter = 'A1:D1';
      for (let after = 0; ; ) {
        const { rows } = await deps.pool.query(
          'select id, row_number, column_name, value, reason from task_row_errors where task_id = $1 and id > $2 order by id limit 5000',
          [task.id, after],
        );
        for (const r of rows) sheet.addRow({ row: r.row_number, column: r.column_name ?? '', value: r.value ?? '', reason: r.reason }).commit();
        if (rows.length < 5000) break;
        after = rows[rows.length - 1].id;
      }
      sheet.commit();
      await workbook.commit();
    },
  );

  const transitions = [
    { action: 'pause', summary: 'Pause: no message is handed to a provider from the moment this answers; unsent messages show PAUSED' },
    { action: 'resume', summary: 'Resume: paused messages go on (DELAYED until the window opens); nobody re-sent, nobody skipped' },
    { action: 'cancel', summary: 'Cancel: every message not yet sent becomes CANCELED; messages in flight finish' },
  ] as const;
  for (const { action, summary } of transitions) {
    api.route(
      {
        method: 'post',
        path: `/api/v1/tasks/:id/${action}`,
        summary,
        tag: 'Tasks',
        auth: 'operator',
        responses: {
          200: { description: 'Done: the task’s new status', schema: z.object({ status: z.string() }) },
          404: { description: 'Unknown task', schema: errorSchema },
          409: { description: 'Impossible in the task’s current state', schema: errorSchema },
        },
      },
      async ({ req, res, params }) => {
        if (!params.id || !z.uuid().safeParse(params.id).success) throw notFound(`task ${params.id}`);
        const changed = await transition(params.id, () => controlTask(deps.pool, params.id!, action, { by: actor(req.principal) }));
        await tellWorkflow(req, { id: params.id, ...changed });
        res.json({ status: changed.status });
      },
    );
  }
}
