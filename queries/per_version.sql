-- name: per_version
-- description: One row per function and version, oldest version first: invocations, error
--   rate, duration p50/p95/p99, cold-start rate, mean init duration and billed GB-seconds.
-- param: since TIMESTAMP = NULL   -- start of the time window (inclusive, UTC)
-- param: until TIMESTAMP = NULL   -- end of the time window (exclusive, UTC)
-- param: function VARCHAR = NULL  -- only this function_name
-- param: version VARCHAR = NULL   -- only this version
SELECT
    function_name,
    version,
    invocations,
    errors,
    round(100.0 * errors / invocations, 3) AS error_rate_pct,
    pct[1] AS p50_ms,
    pct[2] AS p95_ms,
    pct[3] AS p99_ms,
    cold_starts,
    round(100.0 * cold_starts / invocations, 3) AS cold_start_pct,
    round(avg_init_ms, 3) AS avg_init_ms,
    round(billed_gb_s, 6) AS billed_gb_s,
    first_seen,
    last_seen
FROM (
    SELECT
        function_name,
        version,
        count(*) AS invocations,
        count_if(coalesce(outcome, 'success') <> 'success') AS errors,
        quantile_disc(duration_ms, [0.5, 0.95, 0.99]) AS pct,
        count_if(coalesce(cold_start, init_duration_ms IS NOT NULL)) AS cold_starts,
        avg(init_duration_ms) AS avg_init_ms,
        sum(coalesce(billed_duration_ms, ceil(duration_ms)) / 1000.0 * memory_size_mb / 1024.0)
            AS billed_gb_s,
        min(ts) AS first_seen,
        max(ts) AS last_seen
    FROM invocations
    WHERE ($since IS NULL OR ts >= $since)
      AND ($until IS NULL OR ts < $until)
      AND ($function IS NULL OR function_name = $function)
      AND ($version IS NULL OR version = $version)
    GROUP BY function_name, version
)
ORDER BY function_name, first_seen, version
