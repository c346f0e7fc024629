-- name: billed_duration
-- description: Billed duration per time bucket: invocations, mean, p90/p95/p99 (nearest-rank)
--   and max of billed_duration_ms, the Logs Insights "percentile report of Lambda duration".
-- param: since TIMESTAMP = NULL     -- start of the time window (inclusive, UTC)
-- param: until TIMESTAMP = NULL     -- end of the time window (exclusive, UTC)
-- param: function VARCHAR = NULL    -- only this function_name
-- param: version VARCHAR = NULL     -- only this version
-- param: bucket INTERVAL = '5 minutes' -- bucket size, e.g. '5 minutes', '30m', '1 day'
SELECT
    bucket,
    invocations,
    round(avg_ms, 3) AS avg_ms,
    pct[1] AS p90_ms,
    pct[2] AS p95_ms,
    pct[3] AS p99_ms,
    max_ms
FROM (
    SELECT
        time_bucket($bucket, ts) AS bucket,
        count(billed_duration_ms) AS invocations,
        avg(billed_duration_ms) AS avg_ms,
        quantile_disc(billed_duration_ms, [0.9, 0.95, 0.99]) AS pct,
        max(billed_duration_ms) AS max_ms
    FROM invocations
    WHERE ($since IS NULL OR ts >= $since)
      AND ($until IS NULL OR ts < $until)
      AND ($function IS NULL OR function_name = $function)
      AND ($version IS NULL OR version = $version)
      AND billed_duration_ms IS NOT NULL
    GROUP BY bucket
)
ORDER BY bucket
