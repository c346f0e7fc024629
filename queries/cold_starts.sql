-- name: cold_starts
-- description: Per time bucket: invocations, cold starts, cold-start percentage, and mean /
--   max start-up latency of the cold starts: Init Duration, plus Restore Duration for
--   SnapStart. A cold start is cold_start = true, or, when that is unknown, a REPORT line
--   that carried an Init Duration or a Restore Duration.
-- param: since TIMESTAMP = NULL     -- start of the time window (inclusive, UTC)
-- param: until TIMESTAMP = NULL     -- end of the time window (exclusive, UTC)
-- param: function VARCHAR = NULL    -- only this function_name
-- param: version VARCHAR = NULL     -- only this version
-- param: bucket INTERVAL = '5 minutes' -- bucket size, e.g. '5 minutes', '1h', '1 day'
SELECT
    time_bucket($bucket, ts) AS bucket,
    count(*) AS invocations,
    count_if(coalesce(cold_start, startup_ms IS NOT NULL)) AS cold_starts,
    round(100.0 * count_if(coalesce(cold_start, startup_ms IS NOT NULL)) / count(*), 3)
        AS cold_start_pct,
    round(avg(startup_ms), 3) AS avg_init_ms,
    max(startup_ms) AS max_init_ms
FROM (
    SELECT *,
        CASE WHEN init_duration_ms IS NOT NULL OR restore_duration_ms IS NOT NULL
             THEN coalesce(init_duration_ms, 0) + coalesce(restore_duration_ms, 0) END
            AS startup_ms
    FROM invocations
)
WHERE ($since IS NULL OR ts >= $since)
  AND ($until IS NULL OR ts < $until)
  AND ($function IS NULL OR function_name = $function)
  AND ($version IS NULL OR version = $version)
GROUP BY bucket
ORDER BY bucket
