import { z } from 'zod';
import { TemplateSchema } from '../../db/entities';
import { containsPattern } from '../../db/sql';
import type { ApiDeps } from '../deps';
import { conflict, notFound } from '../errors';
import { errorSchema, listPage, listResponse, paginationQuery, type ApiRegistry } from '../routing';
import { draftPreviewSchema, templateInputSchema, templatePreviewResponse, templatePreviewSchema, templateSchema } from '../schemas';
import { createTemplate, draftTemplate, presentTemplate, previewTemplate, updateTemplate } from '../services/templates';

const isUuid = (value: string) => z.uuid().safeParse(value).success;

export function registerTemplateRoutes(api: ApiRegistry, deps: ApiDeps): void {
  const findTemplate = async (id: string | undefined) => {
    const em = deps.orm.em.fork();
    const template = id && isUuid(id) ? await em.findOne(TemplateSchema, { id }) : null;
    if (!template) throw notFound(`template ${id}`);
    return { em, template };
  };

  api.route(
    {
      method: 'post',
      path: '/api/v1/templates',
      summary: 'Create a notification template',
      tag: 'Templates',
      auth: 'operator',
      body: templateInputSchema,
      responses: {
        201: { description: 'Created; `variables` lists the placeholders found', schema: templateSchema },
        400: { description: 'Malformed', schema: errorSchema },
        422: { description: 'Disabled channel, unapproved sender, bad timezone or window', schema: errorSchema },
      },
    },
    async ({ res, body }) => {
      const template = await createTemplate(deps.orm.em.fork(), body);
      res.status(201).json(presentTemplate(template));
    },
  );

  api.route(
    {
      method: 'post',
      path: '/api/v1/templates/preview',
      summary: "Preview a template that is not saved (the editor's live preview): checked as a save would check it, rendered as POST /templates/:id/preview renders, nothing stored",
      tag: 'Templates',
      auth: 'operator',
      body: draftPreviewSchema,
      responses: {
        200: { description: 'Each channel as it would be sent (templateId is the nil UUID)', schema: templatePreviewResponse },
        400: { description: 'Malformed template or values', schema: errorSchema },
        422: { description: 'Disabled channel, unapproved sender, bad timezone or window, missing variables or an invalid phone', schema: errorSchema },
      },
    },
    async ({ res, body }) => {
      const draft = await draftTemplate(deps.orm.em.fork(), body.template);
      res.json(previewTemplate(draft, { variables: body.variables, phone: body.phone }, deps.config));
    },
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/templates',
      summary: 'Find templates: a full id finds that template, otherwise a case-insensitive part of the name',
      tag: 'Templates',
      auth: 'operator',
      query: z.object({ search: z.string().optional(), ...paginationQuery }),
      responses: { 200: { description: 'Templates, newest first', schema: listResponse(templateSchema) } },
    },
    async ({ res, query }) => {
      const em = deps.orm.em.fork();
      const search = query.search?.trim();
      let where: Record<string, unknown> = {};
      if (search) {
        // A full id finds that template; otherwise a part of the name, case-insensitive, with
        // `%`, `_` and `\` taken literally (not as LIKE wildcards).
        const byName = { name: { $ilike: containsPattern(search) } };
        where = isUuid(search) ? { id: search.toLowerCase() } : byName;
      }
      res.json(await listPage(em, TemplateSchema, where, { createdAt: 'desc', id: 'asc' }, query, presentTemplate));
    },
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/templates/:id',
      summary: 'Get a template',
      tag: 'Templates',
      auth: 'operator',
      responses: { 200: { description: 'The template', schema: templateSchema }, 404: { description: 'Unknown template', schema: errorSchema } },
    },
    async ({ res, params }) => {
      const { template } = await findTemplate(params.id);
      res.json(presentTemplate(template));
    },
  );

  api.route(
    {
      method: 'put',
      path: '/api/v1/templates/:id',
      summary: 'Replace a template (running tasks keep the messages already rendered)',
      tag: 'Templates',
      auth: 'operator',
      body: templateInputSchema,
      responses: {
        200: { description: 'Updated', schema: templateSchema },
        400: { description: 'Malformed', schema: errorSchema },
        404: { description: 'Unknown template', schema: errorSchema },
        422: { description: 'Unacceptable content', schema: errorSchema },
      },
    },
    async ({ res, params, body }) => {
      const { em, template } = await findTemplate(params.id);
      await updateTemplate(em, template, body);
      res.json(presentTemplate(template));
    },
  );

  api.route(
    {
      method: 'delete',
      path: '/api/v1/templates/:id',
      summary: 'Delete a template (409 while a running task uses it)',
      tag: 'Templates',
      auth: 'operator',
      responses: {
        204: { description: 'Deleted' },
        404: { description: 'Unknown template', schema: errorSchema },
        409: { description: 'A running task uses it', schema: errorSchema },
      },
    },
    async ({ res, params }) => {
      const { em, template } = await findTemplate(params.id);
      const { rows } = await deps.pool.query(
        `select id from tasks where template_id = $1 and status in ('created', 'in_progress', 'paused') limit 1`,
        [template.id],
      );
      if (rows[0]) throw conflict(`template is used by task ${rows[0].id}, which has not finished`);
      await em.remove(template).flush();
      res.status(204).end();
    },
  );

  api.route(
    {
      method: 'post',
      path: '/api/v1/templates/:id/preview',
      summary: 'Render every channel of a template with the given variables: text, SMS encoding, parts and cost',
      tag: 'Templates',
      auth: 'operator',
      body: templatePreviewSchema,
      responses: {
        200: { description: 'Each channel as it would be sent; `phone` (optional) selects the country price', schema: templatePreviewResponse },
        400: { description: 'Malformed', schema: errorSchema },
        404: { description: 'Unknown template', schema: errorSchema },
        422: { description: 'Missing variables (listed) or an invalid phone', schema: errorSchema },
      },
    },
    async ({ res, params, body }) => {
      const { template } = await findTemplate(params.id);
      res.json(previewTemplate(template, body, deps.config));
    },
  );
}
