import { z } from 'zod';
import { TASK_FILE_TYPES, type TaskFileType } from '../../core/task-files';
import { TemplateSchema } from '../../db/entities';
import type { ApiDeps } from '../deps';
import { badRequest, HttpError, notFound } from '../errors';
import { errorSchema, type ApiRegistry } from '../routing';
import { buildTaskFileWorkbook, XLSX_CONTENT_TYPE, type TaskFileTemplate } from '../services/task-files';

const isTaskFileType = (value: string): value is TaskFileType => (TASK_FILE_TYPES as readonly string[]).includes(value);

export function registerTaskFileRoutes(api: ApiRegistry, deps: ApiDeps): void {
  api.route(
    {
      method: 'get',
      path: '/api/v1/task-files/:type',
      summary: `An .xlsx task file to fill and upload with POST /api/v1/tasks; type is one of ${TASK_FILE_TYPES.join(', ')}. Row 1 holds the column names, the second sheet explains them`,
      tag: 'Tasks',
      auth: 'operator',
      query: z.object({
        templateId: z.uuid().optional().describe('universal only: adds one var:<name> column per variable of this template'),
      }),
      responses: {
        200: { description: 'The workbook, as an attachment named task-<type>.xlsx', contentType: XLSX_CONTENT_TYPE },
        400: { description: 'Malformed templateId, or a templateId with a type other than universal', schema: errorSchema },
        404: { description: 'Unknown type or template', schema: errorSchema },
      },
    },
    async ({ res, params, query }) => {
      const type = params.type ?? '';
      if (!isTaskFileType(type)) throw new HttpError(404, 'not_found', `no task file of type "${type}"; the types are ${TASK_FILE_TYPES.join(', ')}`);
      let template: TaskFileTemplate | undefined;
      if (query.templateId) {
        // Only the universal file sends a saved template; silently ignoring the id elsewhere would
        // hand out a file without the columns the caller asked for.
        if (type !== 'universal') throw badRequest('templateId applies to the universal task file only', [{ path: 'query.templateId', message: `not used by the ${type} file` }]);
        const record = await deps.orm.em.fork().findOne(TemplateSchema, { id: query.templateId });
        if (!record) throw notFound(`template ${query.templateId}`);
        template = { id: record.id, name: record.name, variables: record.variables };
      }
      const workbook = await buildTaskFileWorkbook(type, template).xlsx.writeBuffer();
      res
        .status(200)
        .type(XLSX_CONTENT_TYPE)
        .set('Content-Disposition', `attachment; filename="task-${type}.xlsx"`)
        .send(Buffer.from(workbook));
    },
  );
}
