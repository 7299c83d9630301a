/** Notification history: a task's timeline (GET /tasks/:id/history) with its counts and a chart of
 * its final statuses over time (GET /tasks/:id/progress), live while it runs. */
import { Alert, Anchor, Badge, Button, Card, Code, Group, Paper, Stack, Text, Timeline, Title } from '@mantine/core';
import { useState } from 'react';
import { CHART_HEIGHT, CHART_LEFT, ValueGrid, valueScale } from '../chart';
import { usePolling, useApp } from '../context';
import { translateOr } from '../i18n';
import { formatDateTime, isTaskEnded, niceMax, statusColor } from '../logic';
import { CountBadges, StatusBadge } from './TasksPage';
import type { Task } from './TaskForms';

interface History {
  taskId: string;
  events: { kind: string; at: string; detail: Record<string, unknown> }[];
  counts: Record<string, number>;
}

export interface Progress {
  taskId: string;
  from: string;
  to: string;
  statuses: string[];
  buckets: { at: string; counts: Record<string, number> }[];
  counts: Record<string, number>;
}

/** Statuses that share a colour (DELIVERED and READ…) tell apart by shade and dash. */
const SECOND_OF_PAIR = new Set(['READ', 'ERROR', 'SKIPPED']);
const lineColor = (status: string) => `var(--mantine-color-${statusColor(status)}-${SECOND_OF_PAIR.has(status) ? 9 : 6})`;

/** A short time for the axis: the date too when the chart spans more than a day. */
function axisTime(iso: string, lang: string, withDate: boolean): string {
  return new Intl.DateTimeFormat(lang === 'ru' ? 'ru-RU' : 'en-GB', {
    ...(withDate ? { day: '2-digit', month: '2-digit' } : {}),
    hour: '2-digit',
    minute: '2-digit',
  }).format(new Date(iso));
}

/** One line per final status a message has reached: how many had it by each step (cumulative). */
export function ProgressChart({ progress }: { progress: Progress }) {
  const { t, lang } = useApp();
  const { buckets } = progress;
  const shown = progress.statuses.filter((s) => (buckets[buckets.length - 1]?.counts[s] ?? 0) > 0);
  const finals = Object.fromEntries(shown.map((s) => [s, buckets[buckets.length - 1]?.counts[s] ?? 0]));
  const top = niceMax(Math.max(0, ...Object.values(finals)));
  const height = CHART_HEIGHT;
  const left = CHART_LEFT;
  const width = 900;
  const x = (i: number) => left + ((width - left - 8) * (i + 1)) / Math.max(1, buckets.length);
  const y = valueScale(top);
  const withDate = Date.parse(progress.to) - Date.parse(progress.from) > 86_400_000;
  const label = `${t('history.chart')}: ${shown.map((s) => `${s} ${finals[s]}`).join(', ')}`;
  return (
    <Paper withBorder p="sm" data-testid="progress">
      <Title order={4} mb="xs">
        {t('history.chart')}
      </Title>
      {shown.length === 0 ? (
        <Text size="sm" c="dimmed">
          {t('history.noFinal')}
        </Text>
      ) : (
        <svg width="100%" viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label} data-testid="progress-chart" style={{ maxWidth: width, display: 'block' }}>
          <ValueGrid top={top} width={width} />
          {shown.map((status) => (
            <polyline
              key={status}
              points={[`${left},${y(0)}`, ...buckets.map((b, i) => `${x(i)},${y(b.counts[status] ?? 0)}`)].join(' ')}
              fill="none"
              stroke={lineColor(status)}
              strokeWidth={2}
              strokeDasharray={SECOND_OF_PAIR.has(status) ? '6 3' : undefined}
              strokeLinejoin="round"
              data-status={status}
              data-last={finals[status]}
            >
              <title>{`${status} ${finals[status]}`}</title>
            </polyline>
          ))}
          <text x={left} y={height - 10} fontSize="10" textAnchor="start" fill="var(--mantine-color-dimmed)">
            {axisTime(progress.from, lang, withDate)}
          </text>
          <text x={width - 8} y={height - 10} fontSize="10" textAnchor="end" fill="var(--mantine-color-dimmed)">
            {axisTime(progress.to, lang, withDate)}
          </text>
        </svg>
      )}
      <Group gap={6} mt="xs" data-testid="progress-legend">
        {shown.map((s) => (
          <Badge key={s} color={statusColor(s)} variant={SECOND_OF_PAIR.has(s) ? 'outline' : 'light'} data-status-total={s}>
            {s} {finals[s]}
          </Badge>
        ))}
      </Group>
    </Paper>
  );
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
  const [progress, setProgress] = useState<Progress | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = async () => {
    try {
      const [tk, h, p] = await Promise.all([
        api.get<Task>(`/api/v1/tasks/${taskId}`),
        api.get<History>(`/api/v1/tasks/${taskId}/history`),
        api.get<Progress>(`/api/v1/tasks/${taskId}/progress`),
      ]);
      setTask(tk);
      setHistory(h);
      setProgress(p);
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
      {progress && <ProgressChart progress={progress} />}
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
