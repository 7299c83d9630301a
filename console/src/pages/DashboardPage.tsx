/** Dashboard: messages per day by status and cost per channel for a chosen period
 * (`GET /api/v1/messages/stats`), drawn as a small SVG bar chart. */
import { Alert, Badge, Button, Group, Paper, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { DatePickerInput } from '@mantine/dates';
import { useState } from 'react';
import { ApiError } from '../api';
import { CHART_HEIGHT, CHART_LEFT, ValueGrid, valueScale } from '../chart';
import { useApp, usePolling } from '../context';
import { everyDay, lastDays, MAX_STATS_DAYS, MESSAGE_STATUSES, niceMax, orderedCounts, statsPeriod, statusColor, toQuery, type MessageStats } from '../logic';

const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
const colorOf = (status: string) => `var(--mantine-color-${statusColor(status)}-6)`;

/** Stacked bars, one per day, a segment per status; the axis top is a round number. */
function DayChart({ days }: { days: MessageStats['days'] }) {
  const { t } = useApp();
  const top = niceMax(Math.max(0, ...days.map((d) => d.total)));
  const height = CHART_HEIGHT;
  const left = CHART_LEFT;
  const slot = Math.max(8, Math.min(48, Math.floor(900 / Math.max(1, days.length))));
  const width = left + slot * days.length + 8;
  const y = valueScale(top);
  const labelEvery = Math.ceil(days.length / 12);
  return (
    <svg width="100%" viewBox={`0 0 ${width} ${height}`} role="img" aria-label={t('dashboard.chart')} data-testid="day-chart" style={{ maxWidth: width, display: 'block' }}>
      <ValueGrid top={top} width={width} />
      {days.map((d, i) => {
        let base = 0;
        const x = left + i * slot + slot * 0.15;
        return (
          <g key={d.day} data-day={d.day} data-total={d.total}>
            <title>{`${d.day}: ${d.total}${orderedCounts(d.counts).map(([s, n]) => `\n${s} ${n}`).join('')}`}</title>
            {orderedCounts(d.counts).map(([status, n]) => {
              const y1 = y(base + n);
              const h = y(base) - y1;
              base += n;
              return <rect key={status} x={x} y={y1} width={slot * 0.7} height={Math.max(h, 0.5)} fill={colorOf(status)} data-status={status} data-count={n} />;
            })}
            {i % labelEvery === 0 && (
              <text x={x + slot * 0.35} y={height - 10} fontSize="10" textAnchor="middle" fill="var(--mantine-color-dimmed)">
                {d.day.slice(8, 10)}.{d.day.slice(5, 7)}
              </text>
            )}
          </g>
        );
      })}
    </svg>
  );
}

export function DashboardPage() {
  const { api, t } = useApp();
  const [range, setRange] = useState<[string | null, string | null]>(() => lastDays(7));
  const [stats, setStats] = useState<MessageStats | null>(null);
  const [error, setError] = useState<string[] | null>(null);
  const [first, last] = range;
  usePolling(
    async () => {
      const period = first && last ? statsPeriod(first, last) : undefined;
      if (!period) return;
      try {
        setStats(await api.get<MessageStats>(`/api/v1/messages/stats${toQuery({ ...period, timezone: browserZone() })}`));
        setError(null);
      } catch (e) {
        setError(e instanceof ApiError ? e.lines : [String(e)]);
      }
    },
    [first, last],
    30_000,
  );
  const days = stats && first && last ? everyDay(first, last, stats.days) : [];
  const statuses = MESSAGE_STATUSES.filter((s) => days.some((d) => (d.counts[s] ?? 0) > 0));
  const totals = Object.fromEntries(statuses.map((s) => [s, days.reduce((a, d) => a + (d.counts[s] ?? 0), 0)]));
  const delivered = (totals.DELIVERED ?? 0) + (totals.READ ?? 0);

  return (
    <Stack>
      <Title order={2}>{t('dashboard.title')}</Title>
      <Group align="end">
        <DatePickerInput
          type="range"
          label={t('common.period')}
          description={t('dashboard.periodHint', { days: MAX_STATS_DAYS })}
          value={range}
          onChange={(value) => setRange([value[0] ? String(value[0]).slice(0, 10) : null, value[1] ? String(value[1]).slice(0, 10) : null])}
          valueFormat="DD.MM.YYYY"
          maxDate={new Date()}
          w={260}
          data-testid="period"
        />
        {[7, 30, 90].map((n) => (
          <Button key={n} variant="default" onClick={() => setRange(lastDays(n))}>
            {t('dashboard.lastDays', { count: n })}
          </Button>
        ))}
      </Group>
      {error && (
        <Alert color="red" role="alert">
          {error.join('\n')}
        </Alert>
      )}
      {stats && (
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          <Paper withBorder p="sm">
            <Text size="xs" c="dimmed">
              {t('dashboard.messages')}
            </Text>
            <Text size="xl" fw={700} data-testid="total-messages">
              {stats.total.messages}
            </Text>
          </Paper>
          <Paper withBorder p="sm">
            <Text size="xs" c="dimmed">
              {t('dashboard.delivered')}
            </Text>
            <Text size="xl" fw={700} data-testid="total-delivered">
              {delivered}
              {stats.total.messages > 0 ? ` (${Math.round((delivered / stats.total.messages) * 100)}%)` : ''}
            </Text>
          </Paper>
          <Paper withBorder p="sm">
            <Text size="xs" c="dimmed">
              {t('dashboard.cost')}
            </Text>
            <Text size="xl" fw={700} data-testid="total-cost">
              {stats.total.cost}
            </Text>
          </Paper>
        </SimpleGrid>
      )}
      {stats && (
        <Paper withBorder p="sm">
          <Title order={4} mb="xs">
            {t('dashboard.perDay')}
          </Title>
          {stats.total.messages === 0 ? (
            <Text size="sm" c="dimmed">
              {t('dashboard.none')}
            </Text>
          ) : (
            <DayChart days={days} />
          )}
          <Group gap={6} mt="xs" data-testid="legend">
            {statuses.map((s) => (
              <Badge key={s} color={statusColor(s)} variant="light" data-status-total={s}>
                {s} {totals[s]}
              </Badge>
            ))}
          </Group>
        </Paper>
      )}
      {stats && (
        <Paper withBorder p="sm">
          <Title order={4} mb="xs">
            {t('dashboard.perChannel')}
          </Title>
          <Table data-testid="channel-costs" maw={600}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('senders.col.channel')}</Table.Th>
                <Table.Th>{t('dashboard.messages')}</Table.Th>
                <Table.Th>{t('dashboard.cost')}</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {stats.channels.map((c) => (
                <Table.Tr key={c.channel} data-channel={c.channel} data-messages={c.messages} data-cost={c.cost}>
                  <Table.Td>{c.channel}</Table.Td>
                  <Table.Td>{c.messages}</Table.Td>
                  <Table.Td>{c.cost}</Table.Td>
                  <Table.Td w={200}>
                    <div style={{ background: 'var(--mantine-color-blue-5)', height: 10, width: `${stats.total.cost > 0 ? (c.cost / stats.total.cost) * 100 : 0}%` }} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Paper>
      )}
    </Stack>
  );
}
