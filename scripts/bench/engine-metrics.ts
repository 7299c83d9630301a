import { engineMetrics } from '../../activities/metrics';

/** A snapshot of the engine's counters and histograms in this process (the bench runs the worker
 * in it): the bench's figures come from the same series an engineer graphs. */
export async function readEngineMetrics(): Promise<{ delivered: number; handedOver: number; receiptBuckets: { le: number; count: number }[]; claimLagBuckets: { le: number; count: number }[] }> {
  const json = await engineMetrics.getMetricsAsJSON();
  const values = (name: string) => (json.find((m) => m.name === name)?.values ?? []) as { labels: Record<string, string | number>; value: number; metricName?: string }[];
  const sum = (name: string, match: (labels: Record<string, string | number>) => boolean) =>
    values(name).filter((v) => match(v.labels)).reduce((total, v) => total + v.value, 0);
  const buckets = (name: string, match: (labels: Record<string, string | number>) => boolean) => {
    const byLe = new Map<number, number>();
    for (const v of values(name)) {
      if (v.metricName !== `${name}_bucket` || !match(v.labels)) continue;
      const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le);
      byLe.set(le, (byLe.get(le) ?? 0) + v.value);
    }
    return [...byLe].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
  };
  return {
    delivered: sum('messages_status_changes_total', (l) => l.status === 'DELIVERED'),
    handedOver: sum('dispatch_handed_over_total', () => true),
    receiptBuckets: buckets('receipt_latency_seconds', (l) => l.status === 'DELIVERED'),
    claimLagBuckets: buckets('dispatch_claim_lag_seconds', () => true),
  };
}

/** The bucket bound under which `q` of the observations fall, between two snapshots (cumulative
 * buckets), as Prometheus' histogram_quantile would bound it. */
export function quantileBetween(before: { le: number; count: number }[], after: { le: number; count: number }[], q: number): number {
  const counts = after.map((b) => ({ le: b.le, count: b.count - (before.find((x) => x.le === b.le)?.count ?? 0) }));
  const total = counts[counts.length - 1]?.count ?? 0;
  return counts.find((b) => b.count >= q * total)?.le ?? NaN;
}
