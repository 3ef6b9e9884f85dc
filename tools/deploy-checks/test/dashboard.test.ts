/**
 * How the dashboard check reads PromQL and expositions. The check itself, against the running services'
 * /metrics and a real Prometheus, is in test/prometheus/live.test.ts (`npm run test:prometheus`).
 */
import { dashboardQueries, exposedNames, metricNames, natsExporterMetrics } from '../src/dashboard';

describe('the dashboard check', () => {
  it('finds the metric names of a PromQL expression, not its functions, labels, grouping or keywords', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (job, le) (rate(http_request_duration_seconds_bucket{status=~"5.."}[5m]))) / on (job) group_left sum(up) or vector(0)',
      ),
    ).toEqual(['http_request_duration_seconds_bucket', 'up']);
  });

  it('reads the names of an exposition: declared families (a histogram with its series) and samples', () => {
    const text = [
      '# HELP h A histogram',
      '# TYPE h histogram',
      'h_bucket{le="1"} 0',
      'h_sum 0',
      'h_count 0',
      '# TYPE c_total counter',
      'g 3',
    ].join('\n');
    expect([...exposedNames(text)].sort()).toEqual(['c_total', 'g', 'h_bucket', 'h_count', 'h_sum']);
  });

  it('has panels with queries, and a NATS fact list to check the NATS ones against', () => {
    expect(dashboardQueries().length).toBeGreaterThan(10);
    expect(natsExporterMetrics()).toContain('nats_consumer_num_pending');
  });
});
