/** Notification history: a task's timeline (GET /tasks/:id/history) with its counts, live. */
import { Alert, Anchor, Button, Card, Code, Group, Stack, Text, Timeline, Title } from '@mantine/core';
import { useState } from 'react';
import { usePolling, useApp } from '../context';
import { translateOr } from '../i18n';
import { formatDateTime, isTaskEnded } from '../logic';
import { CountBadges, StatusBadge } from './TasksPage';
import type { Task } from './TaskForms';

interface History {
  taskId: string;
  events: { kind: string; at: string; detail: Record<string, unknown> }[];
  counts: Record<string, number>;
}

/** The detail of an event in one line: `rows: 40, by: admin`. */
function detailText(detail: Record<string, unknown>): string {
  return Object.entries(detail)
    .map(([key, value]) => {
      if (value && typeof value === 'object' && 'name' in (value as object)) return `${key}: ${String((value as { name: unknown }).name)}`;
      return `${key}: ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`;
    })
    .join(', ');
}

export function TaskHistoryPage({ taskId }: { taskId: string }) {
  const { api, t, lang, navigate } = useApp();
  const [task, setTask] = useState<Task | null>(null);
  const [history, setHistory] = useState<History | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = async () => {
    try {
      const [tk, h] = await Promise.all([api.get<Task>(`/api/v1/tasks/${taskId}`), api.get<History>(`/api/v1/tasks/${taskId}/history`)]);
      setTask(tk);
      setHistory(h);
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  usePolling(load, [taskId], 2000, !task || !isTaskEnded(task.status));

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t('history.title')}</Title>
        <Button variant="default" onClick={() => navigate('/tasks')}>
          {t('history.back')}
        </Button>
      </Group>
      {error && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      {task && (
        <Card withBorder>
          <Group justify="space-between">
            <Stack gap={2}>
              <Title order={3} data-testid="history-task">
                {task.name}
              </Title>
              <Text size="sm" c="dimmed">
                {task.type} · {task.id}
              </Text>
            </Stack>
            <Group>
              <StatusBadge status={task.status} />
              <Anchor href={task.temporalUiUrl} target="_blank" rel="noreferrer">
                {t('tasks.temporal')}
              </Anchor>
              <Button size="xs" variant="light" onClick={() => navigate(`/messages?taskId=${task.id}`)}>
                {t('tasks.messages')}
              </Button>
            </Group>
          </Group>
          <Text size="sm" mt="sm" fw={500}>
            {t('history.counts')}
          </Text>
          <CountBadges counts={history?.counts ?? task.counts} />
        </Card>
      )}
      {history && history.events.length === 0 && <Text c="dimmed">{t('history.noEvents')}</Text>}
      {history && (
        <Timeline active={history.events.length - 1} bulletSize={18} lineWidth={2} data-testid="timeline">
          {history.events.map((event, i) => (
            <Timeline.Item key={i} title={translateOr(lang, `history.event.${event.kind}`, event.kind)} data-kind={event.kind}>
              <Text size="xs" c="dimmed">
                {formatDateTime(event.at, lang)}
              </Text>
              {Object.keys(event.detail ?? {}).length > 0 && (
                <Code block fz="xs" mt={4}>
                  {detailText(event.detail)}
                </Code>
              )}
            </Timeline.Item>
          ))}
        </Timeline>
      )}
    </Stack>
  );
}
