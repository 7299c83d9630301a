/** Send a notification: pick a template, add recipients (or paste many), fill its variables, send;
 * then the task and each message's status as it changes. */
import { Alert, Anchor, Badge, Button, Group, Paper, Progress, Select, SimpleGrid, Stack, Table, Text, Textarea, TextInput, Title } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useEffect, useMemo, useState } from 'react';
import { ApiError } from '../api';
import { useApp, usePolling } from '../context';
import { anonymousRecipients, formatDateTime, messagesSettled, missingSendVariables, parseRecipients, progressOf, statusColor, toQuery, type Template } from '../logic';
import { CountBadges } from './TasksPage';
import type { Task } from './TaskForms';
import type { MessageKey } from '../i18n';

const MAX_RECIPIENTS = 10_000;

interface SentMessage {
  id: string;
  channel: string;
  recipient: string;
  status: string;
  optional: boolean;
}
interface LoggedMessage extends SentMessage {
  statusDescription: string | null;
  cost: number;
  parts: number;
  statusAt: string | null;
}

export function SendPage({ templateId }: { templateId?: string }) {
  const { api, t, navigate } = useApp();
  const [search, setSearch] = useState('');
  const [debounced] = useDebouncedValue(search.trim(), 300);
  const [options, setOptions] = useState<Template[]>([]);
  const [template, setTemplate] = useState<Template | null>(null);
  const [pasted, setPasted] = useState('');
  const [values, setValues] = useState<Record<string, string>>({});
  const [error, setError] = useState<string[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [taskId, setTaskId] = useState<string | null>(null);

  useEffect(() => {
    api
      .get<{ items: Template[] }>(`/api/v1/templates${toQuery({ search: debounced, pageSize: 50 })}`)
      .then((page) => setOptions(page.items))
      .catch((e: unknown) => setError(e instanceof ApiError ? e.lines : [String(e)]));
  }, [api, debounced]);
  useEffect(() => {
    if (!templateId) return;
    api
      .get<Template>(`/api/v1/templates/${templateId}`)
      .then(setTemplate)
      .catch((e: unknown) => setError(e instanceof ApiError ? e.lines : [String(e)]));
  }, [api, templateId]);

  const recipients = useMemo(() => parseRecipients(pasted), [pasted]);
  const missing = template ? missingSendVariables(template.variables, values, recipients) : [];
  const anonymous = anonymousRecipients(recipients);
  const data = useMemo(() => {
    const list = template && !options.some((o) => o.id === template.id) ? [template, ...options] : options;
    return list.map((o) => ({ value: o.id, label: `${o.name} (${o.channels.map((c) => String(c.channel)).join(' → ')})` }));
  }, [options, template]);

  const send = async () => {
    if (!template) return;
    setBusy(true);
    setError(null);
    try {
      const common = Object.fromEntries(Object.entries(values).filter(([k, v]) => template.variables.includes(k) && v.trim() !== ''));
      const res = await api.request<{ taskId: string; messages: SentMessage[] }>('POST', '/api/v1/notifications', { templateId: template.id, variables: common, recipients });
      setTaskId(res.taskId);
    } catch (e) {
      setError(e instanceof ApiError ? e.lines : [String(e)]);
    } finally {
      setBusy(false);
    }
  };

  if (taskId) return <SentTask taskId={taskId} onAnother={() => setTaskId(null)} />;

  return (
    <Stack>
      <Title order={2}>{t('send.title')}</Title>
      <SimpleGrid cols={{ base: 1, lg: 2 }} spacing="lg">
        <Stack>
          <Select
            label={t('send.template')}
            placeholder={t('send.templatePlaceholder')}
            data={data}
            value={template?.id ?? null}
            searchable
            searchValue={search}
            onSearchChange={setSearch}
            filter={({ options: all }) => all}
            onChange={(id) => setTemplate([...options, ...(template ? [template] : [])].find((o) => o.id === id) ?? null)}
            nothingFoundMessage={t('common.nothing')}
            data-testid="send-template"
          />
          {template && (
            <Group gap="xs">
              <Anchor
                size="sm"
                href={`/templates/${template.id}`}
                onClick={(e) => {
                  e.preventDefault();
                  navigate(`/templates/${template.id}`);
                }}
              >
                {t('send.openTemplate')}
              </Anchor>
            </Group>
          )}
          <Textarea
            label={t('send.recipients')}
            description={t('send.recipientsHint')}
            value={pasted}
            onChange={(e) => setPasted(e.currentTarget.value)}
            autosize
            minRows={4}
            maxRows={14}
            data-testid="send-recipients"
          />
          <Text size="sm" data-testid="recipient-count" c={recipients.length > MAX_RECIPIENTS ? 'red' : undefined}>
            {t('send.recipientCount', { count: recipients.length })}
            {recipients.length > MAX_RECIPIENTS ? ` — ${t('send.tooMany')}` : ''}
          </Text>
          {anonymous > 0 && (
            <Text size="sm" c="red">
              {t('send.anonymous', { count: anonymous })}
            </Text>
          )}
        </Stack>
        <Stack>
          <Title order={4}>{t('templates.variables')}</Title>
          {!template && (
            <Text size="sm" c="dimmed">
              {t('send.pickFirst')}
            </Text>
          )}
          {template && template.variables.length === 0 && (
            <Text size="sm" c="dimmed">
              {t('send.noVariables')}
            </Text>
          )}
          {template?.variables.map((v) => (
            <TextInput key={v} label={`{${v}}`} value={values[v] ?? ''} onChange={(e) => setValues({ ...values, [v]: e.currentTarget.value })} aria-label={`variable ${v}`} />
          ))}
          {template && template.variables.length > 0 && (
            <Text size="xs" c="dimmed">
              {t('send.variablesHint')}
            </Text>
          )}
          {missing.length > 0 && (
            <Text size="sm" c="orange" data-testid="missing-variables">
              {t('send.missing', { names: missing.join(', ') })}
            </Text>
          )}
          {recipients.length > 0 && (
            <Table data-testid="recipients-preview">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t('send.col.phone')}</Table.Th>
                  <Table.Th>{t('send.col.email')}</Table.Th>
                  <Table.Th>{t('send.col.externalId')}</Table.Th>
                  <Table.Th>{t('templates.variables')}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {recipients.slice(0, 10).map((r, i) => (
                  <Table.Tr key={i}>
                    <Table.Td>{r.phone ?? '—'}</Table.Td>
                    <Table.Td>{r.email ?? '—'}</Table.Td>
                    <Table.Td>{r.externalId ?? '—'}</Table.Td>
                    <Table.Td>
                      {Object.entries(r.variables ?? {})
                        .map(([k, v]) => `${k}=${v}`)
                        .join(', ') || '—'}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
          {recipients.length > 10 && (
            <Text size="xs" c="dimmed">
              {t('send.andMore', { count: recipients.length - 10 })}
            </Text>
          )}
        </Stack>
      </SimpleGrid>
      {error && (
        <Alert color="red" role="alert" data-testid="send-error">
          {error.map((line, i) => (
            <Text key={i} size="sm">
              {line}
            </Text>
          ))}
        </Alert>
      )}
      <Group>
        <Button onClick={() => void send()} loading={busy} disabled={!template || recipients.length === 0 || recipients.length > MAX_RECIPIENTS || anonymous > 0}>
          {t('send.submit', { count: recipients.length })}
        </Button>
      </Group>
    </Stack>
  );
}

/** The task a send created and its messages, polled every 2 s until every message is settled. */
function SentTask({ taskId, onAnother }: { taskId: string; onAnother: () => void }) {
  const { api, t, lang, navigate } = useApp();
  const [task, setTask] = useState<Task | null>(null);
  const [messages, setMessages] = useState<LoggedMessage[]>([]);
  const [error, setError] = useState<string[] | null>(null);
  const settled = task !== null && messages.length > 0 && messagesSettled(task.status, messages.map((m) => m.status));
  usePolling(
    async () => {
      try {
        const [tk, page] = await Promise.all([
          api.get<Task>(`/api/v1/tasks/${taskId}`),
          api.get<{ items: LoggedMessage[] }>(`/api/v1/messages${toQuery({ taskId, pageSize: 100 })}`),
        ]);
        setTask(tk);
        setMessages(page.items);
        setError(null);
      } catch (e) {
        setError(e instanceof ApiError ? e.lines : [String(e)]);
      }
    },
    [taskId],
    2000,
    !settled,
  );
  const progress = progressOf(task?.counts);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t('send.sentTitle')}</Title>
        <Button variant="light" onClick={onAnother}>
          {t('send.another')}
        </Button>
      </Group>
      {error && (
        <Alert color="red" role="alert">
          {error.join('\n')}
        </Alert>
      )}
      {task && (
        <Paper withBorder p="sm" data-testid="sent-task" data-status={task.status}>
          <Stack gap="xs">
            <Group>
              <Text fw={600}>{task.name}</Text>
              <Badge color={statusColor(task.status)} data-testid="sent-task-status">
                {t(`status.${task.status}` as MessageKey)}
              </Badge>
              <Anchor
                size="sm"
                href={`/tasks/${task.id}/history`}
                onClick={(e) => {
                  e.preventDefault();
                  navigate(`/tasks/${task.id}/history`);
                }}
              >
                {t('tasks.history')}
              </Anchor>
              <Anchor
                size="sm"
                href={`/messages?taskId=${task.id}`}
                onClick={(e) => {
                  e.preventDefault();
                  navigate(`/messages?taskId=${task.id}`);
                }}
              >
                {t('tasks.messages')}
              </Anchor>
              <Anchor size="sm" href={task.temporalUiUrl} target="_blank" rel="noreferrer">
                {t('tasks.temporal')}
              </Anchor>
            </Group>
            <CountBadges counts={task.counts} />
            <Progress value={progress.percent} size="sm" aria-label={t('tasks.done', { done: progress.done, total: progress.total })} />
            <Text size="xs" c="dimmed">
              {settled ? t('send.settled') : t('send.watching')}
            </Text>
          </Stack>
        </Paper>
      )}
      <Table striped data-testid="sent-messages">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t('send.col.recipient')}</Table.Th>
            <Table.Th>{t('senders.col.channel')}</Table.Th>
            <Table.Th>{t('senders.col.status')}</Table.Th>
            <Table.Th>{t('templates.parts')}</Table.Th>
            <Table.Th>{t('templates.cost')}</Table.Th>
            <Table.Th>{t('send.col.statusAt')}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {messages.map((m) => (
            <Table.Tr key={m.id} data-recipient={m.recipient} data-channel={m.channel} data-status={m.status}>
              <Table.Td>{m.recipient}</Table.Td>
              <Table.Td>
                {m.channel}
                {m.optional ? ` (${t('templates.fallback')})` : ''}
              </Table.Td>
              <Table.Td>
                <Badge color={statusColor(m.status)} variant="light">
                  {m.status}
                </Badge>
                {m.statusDescription && (
                  <Text size="xs" c="dimmed">
                    {m.statusDescription}
                  </Text>
                )}
              </Table.Td>
              <Table.Td>{m.parts}</Table.Td>
              <Table.Td>{m.cost}</Table.Td>
              <Table.Td>{formatDateTime(m.statusAt, lang)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}
