-- name: concurrency
-- description: Concurrency per function and execution environment (log_stream) over time,
--   from overlapping invocations: an invocation runs from ts for duration_ms (ends before
--   starts at the same instant, so back-to-back calls do not overlap; rows without a
--   positive duration are left out). Per time bucket it touches: invocations started in it,
--   peak_concurrency (most invocations running at one instant, those started earlier and
--   still running included), busy_ms (invocation time inside the bucket) and
--   avg_concurrency (busy_ms / bucket length). An on-demand environment runs one invocation
--   at a time (a peak above 1 there means the records overlap); a Lambda Managed Instances
--   environment runs one per runtime process at once, so its peak is the processes busy.
--   Rows without a log stream share one NULL environment per function.
-- param: since TIMESTAMP = NULL        -- start of the time window (inclusive, UTC)
-- param: until TIMESTAMP = NULL        -- end of the time window (exclusive, UTC)
-- param: function VARCHAR = NULL       -- only this function_name
-- param: version VARCHAR = NULL        -- only this version
-- param: bucket INTERVAL = '1 minute'  -- bucket size, e.g. '10 seconds', '5m', '1h'
WITH inv AS (
    SELECT
        function_name,
        log_stream AS environment,
        ts AS started,
        ts + to_microseconds(CAST(round(duration_ms * 1000) AS BIGINT)) AS ended
    FROM invocations
    WHERE ($since IS NULL OR ts >= $since)
      AND ($until IS NULL OR ts < $until)
      AND ($function IS NULL OR function_name = $function)
      AND ($version IS NULL OR version = $version)
      AND duration_ms > 0
),
touched AS (
    SELECT
        function_name,
        environment,
        started,
        ended,
        unnest(generate_series(
            time_bucket($bucket, started),
            time_bucket($bucket, ended - INTERVAL 1 MICROSECOND),
            $bucket
        )) AS bucket
    FROM inv
),
per_bucket AS (
    SELECT
        function_name,
        environment,
        bucket,
        count_if(started >= bucket) AS invocations,
        count_if(started < bucket) AS carried_in,
        sum(epoch_us(least(ended, bucket + $bucket)) - epoch_us(greatest(started, bucket)))
            / 1000.0 AS busy_ms
    FROM touched
    GROUP BY function_name, environment, bucket
),
levels AS (
    SELECT
        function_name,
        environment,
        event_ts,
        delta,
        sum(delta) OVER (
            PARTITION BY function_name, environment
            ORDER BY event_ts, delta
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS level
    FROM (
        SELECT function_name, environment, started AS event_ts, 1 AS delta FROM inv
        UNION ALL
        SELECT function_name, environment, ended AS event_ts, -1 AS delta FROM inv
    )
),
start_peaks AS (
    SELECT function_name, environment, time_bucket($bucket, event_ts) AS bucket, max(level) AS peak
    FROM levels
    WHERE delta = 1
    GROUP BY function_name, environment, time_bucket($bucket, event_ts)
)
SELECT
    b.function_name,
    b.environment,
    b.bucket,
    b.invocations,
    greatest(coalesce(p.peak, 0), b.carried_in) AS peak_concurrency,
    round(b.busy_ms, 3) AS busy_ms,
    round(b.busy_ms / ((epoch_us(b.bucket + $bucket) - epoch_us(b.bucket)) / 1000.0), 4)
        AS avg_concurrency
FROM per_bucket b
LEFT JOIN start_peaks p
    ON p.function_name = b.function_name
   AND p.environment IS NOT DISTINCT FROM b.environment
   AND p.bucket = b.bucket
ORDER BY b.function_name, b.environment NULLS LAST, b.bucket
