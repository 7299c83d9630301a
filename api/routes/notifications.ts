import { TemplateSchema, type TemplateRecord } from '../../db/entities';
import type { ApiDeps } from '../deps';
import { HttpError, unprocessable } from '../errors';
import { errorSchema, type ApiRegistry } from '../routing';
import { MAX_RECIPIENTS_PER_CALL, sendNotificationResponse, sendNotificationSchema, type TemplateChannel } from '../schemas';
import { recordSend } from '../services/notifications';
import { validateTemplate } from '../services/templates';

/** How long a checked template is reused by sends: disabling a channel or editing a template
 * takes effect for new sends within this time. */
const TEMPLATE_CACHE_MS = 1000;

export function registerNotificationRoutes(api: ApiRegistry, deps: ApiDeps): void {
  // At hundreds of sends a second, loading and re-checking the template (three queries) for each
  // one would cost more than recording the send itself. The lookup itself is shared: when the
  // entry expires under load, the requests that arrive while it is reloaded wait for that one
  // reload instead of each starting their own (they did: a tenth of the API's CPU at 260 req/s).
  const checked = new Map<string, { template: Promise<TemplateRecord>; until: number }>();
  async function loadSendableTemplate(templateId: string): Promise<TemplateRecord> {
    const em = deps.orm.em.fork();
    const template = await em.findOne(TemplateSchema, { id: templateId });
    if (!template) throw unprocessable(`template ${templateId} not found`, [{ path: 'templateId', message: 'no such template' }]);
    // Channels or senders may have been disabled or revoked since the template was saved.
    await validateTemplate(em, {
      name: template.name,
      timezone: template.timezone,
      sendWindows: template.sendWindows,
      channels: template.channels as unknown as TemplateChannel[],
    });
    return template;
  }
  function sendableTemplate(templateId: string): Promise<TemplateRecord> {
    const cached = checked.get(templateId);
    if (cached && cached.until > Date.now()) return cached.template;
    if (checked.size > 10_000) checked.clear();
    const entry = { template: loadSendableTemplate(templateId), until: Infinity };
    checked.set(templateId, entry);
    // Reused for a second from when it is known; a failure (no such template, a disabled channel)
    // is answered to the requests that waited for it and looked up afresh by the next one.
    entry.template.then(
      () => (entry.until = Date.now() + TEMPLATE_CACHE_MS),
      () => checked.get(templateId) === entry && checked.delete(templateId),
    );
    return entry.template;
  }

  api.route(
    {
      method: 'post',
      path: '/api/v1/notifications',
      summary: 'Send a template to one or many recipients (up to 10,000 a call); optional Idempotency-Key header',
      tag: 'Notifications',
      auth: 'operator',
      body: sendNotificationSchema,
      responses: {
        202: { description: 'Accepted: durable, dispatched by the task workflow', schema: sendNotificationResponse },
        400: { description: 'Malformed', schema: errorSchema },
        409: { description: 'Idempotency-Key reused for a different request', schema: errorSchema },
        413: { description: 'More than 10,000 recipients', schema: errorSchema },
        422: { description: 'Unknown template, missing variables, invalid phone or email', schema: errorSchema },
      },
    },
    async ({ req, res, body }) => {
      if (body.recipients.length > MAX_RECIPIENTS_PER_CALL) {
        throw new HttpError(413, 'too_many_recipients', `at most ${MAX_RECIPIENTS_PER_CALL} recipients a call; upload a task file for more`);
      }
      const idempotencyKey = req.get('idempotency-key')?.trim() || undefined;
      if (idempotencyKey && idempotencyKey.length > 200) {
        throw new HttpError(400, 'validation_failed', 'Idempotency-Key is longer than 200 characters', [{ path: 'Idempotency-Key', message: 'too long' }]);
      }
      const template = await sendableTemplate(body.templateId);
      const { response } = await recordSend(deps.pool, deps.config, {
        template,
        variables: body.variables,
        recipients: body.recipients,
        createdBy: req.principal!.apiKeyId,
        idempotencyKey,
      });
      // Durable now; the running notifications stream dispatches it (no workflow start per request).
      res.status(202).json(response);
    },
  );
}
