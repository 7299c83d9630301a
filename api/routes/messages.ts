import { z } from 'zod';
import type { ApiDeps } from '../deps';
import { messageEvents } from '../../db/messages';
import { notFound } from '../errors';
import { errorSchema, type ApiRegistry } from '../routing';
import { messageStatusSchema } from '../schemas';

const MESSAGE_COLUMNS = `id, task_id, group_id, send_id, status, status_description, channel, optional, sender, recipient,
  external_id, text, payload, variables, cost, operator, template_id, template_name, parts, email_views, email_clicks,
  short_link, link_clicks, provider, provider_message_id, registered_at, queued_at, sent_at, status_at,
  delayed_start_at, delivery_end_at`;

/** One message row as the API shows it; `uploadId` is the task the message came with. */
export function presentMessage(r: Record<string, any>) {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    id: r.id,
    uploadId: r.task_id,
    taskId: r.task_id,
    groupId: r.group_id,
    sendId: r.send_id,
    status: r.status,
    statusDescription: r.status_description,
    channel: r.channel,
    optional: r.optional,
    sender: r.sender,
    recipient: r.recipient,
    externalId: r.external_id,
    text: r.text,
    payload: r.payload,
    variables: r.variables,
    cost: r.cost,
    operator: r.operator,
    templateId: r.template_id,
    templateName: r.template_name,
    parts: r.parts,
    emailViews: r.email_views,
    emailClicks: r.email_clicks,
    shortLink: r.short_link,
    linkClicks: r.link_clicks,
    provider: r.provider,
    providerMessageId: r.provider_message_id,
    registeredAt: iso(r.registered_at),
    queuedAt: iso(r.queued_at),
    sentAt: iso(r.sent_at),
    statusAt: iso(r.status_at),
    delayedStartAt: iso(r.delayed_start_at),
    deliveryEndAt: iso(r.delivery_end_at),
  };
}

const messageEventSchema = z.object({ status: messageStatusSchema, description: z.string().nullable(), source: z.string(), at: z.string() });

export function registerMessageRoutes(api: ApiRegistry, deps: ApiDeps): void {
  api.route(
    {
      method: 'get',
      path: '/api/v1/messages/:id',
      summary: 'A message with every field and its event log',
      tag: 'Messages',
      auth: 'operator',
      responses: {
        200: { description: 'The message', schema: z.object({ id: z.uuid(), status: messageStatusSchema, events: z.array(messageEventSchema) }).loose() },
        404: { description: 'Unknown message', schema: errorSchema },
      },
    },
    async ({ res, params }) => {
      const id = params.id!;
      if (!z.uuid().safeParse(id).success) throw notFound(`message ${id}`);
      const { rows } = await deps.pool.query(`select ${MESSAGE_COLUMNS} from messages where id = $1`, [id]);
      if (!rows[0]) throw notFound(`message ${id}`);
      const events = await messageEvents(deps.pool, id);
      // Each short link with its own clicks, in the order of the text (the message's counters add them up).
      const links = await deps.pool.query(
        `select l.code, l.url, l.clicks, l.last_click_at from short_links l join messages m on m.id = l.message_id
         where l.message_id = $1 order by strpos(m.text, '/l/' || l.code), l.code`,
        [id],
      );
      res.json({
        ...presentMessage(rows[0]),
        shortLinks: links.rows.map((l) => ({ code: l.code, url: l.url, clicks: l.clicks, lastClickAt: l.last_click_at?.toISOString() ?? null })),
        events: events.map((e) => ({ ...e, at: e.at.toISOString() })),
      });
    },
  );
}
