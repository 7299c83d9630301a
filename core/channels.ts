/** The channels and their task queues: imported by workflow code, so nothing here does I/O. */
export const CHANNELS = ['sms', 'email', 'push', 'viber', 'whatsapp', 'chat'] as const;
export type Channel = (typeof CHANNELS)[number];
/** Messengers a chat channel can start a session in. */
export const CHAT_MESSENGERS = ['whatsapp', 'viber', 'facebook', 'telegram', 'skype', 'slack', 'alice', 'imessage'] as const;

/** A channel's activity queue, named after the orchestrator's queue: two deployments (or two test
 * stacks) sharing a Temporal namespace never run each other's dispatchers. */
export function channelTaskQueue(orchestratorTaskQueue: string, channel: Channel): string {
  return `${orchestratorTaskQueue}-channel-${channel}`;
}
