-- name: timeline
-- description: Per time bucket: invocations, errors, error rate, duration p50/p95/p99,
--   cold starts and billed GB-seconds. Buckets without invocations are not listed.
-- param: since TIMESTAMP = NULL     -- start of the time window (inclusive, UTC)
-- param: until TIMESTAMP = NULL     -- end of the time window (exclusive, UTC)
-- param: function VARCHAR = NULL    -- only this function_name
-- param: version VARCHAR = NULL     -- only this version
-- param: bucket INTERVAL = '5 minutes' -- bucket size, e.g. '5 minutes', '1h', '1 day'
SELECT
    bucket,
    invocations,
    errors,
    round(100.0 * errors / invocations, 3) AS error_rate_pct,
    pct[1] AS p50_ms,
    pct[2] AS p95_ms,
    pct[3] AS p99_ms,
    cold_starts,
    round(billed_gb_s, 6) AS billed_gb_s
FROM (
    SELECT
        time_bucket($bucket, ts) AS bucket,
        count(*) AS invocations,
        count_if(coalesce(outcome, 'success') <> 'success') AS errors,
        quantile_disc(duration_ms, [0.5, 0.95, 0.99]) AS pct,
        count_if(coalesce(cold_start, init_duration_ms IS NOT NULL)) AS cold_starts,
        sum(coalesce(billed_duration_ms, ceil(duration_ms)) / 1000.0 * memory_size_mb / 1024.0)
            AS billed_gb_s
    FROM invocations
    WHERE ($since IS NULL OR ts >= $since)
      AND ($until IS NULL OR ts < $until)
      AND ($function IS NULL OR function_name = $function)
      AND ($version IS NULL OR version = $version)
    GROUP BY bucket
)
ORDER BY bucket
