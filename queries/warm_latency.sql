-- name: warm_latency
-- description: Handler duration of warm invocations only (cold starts left out, so init does
--   not skew the tail) per function and version: p50/p90/p95/p99 (nearest-rank) and max.
-- param: since TIMESTAMP = NULL   -- start of the time window (inclusive, UTC)
-- param: until TIMESTAMP = NULL   -- end of the time window (exclusive, UTC)
-- param: function VARCHAR = NULL  -- only this function_name
-- param: version VARCHAR = NULL   -- only this version
SELECT
    function_name,
    version,
    warm_invocations,
    pct[1] AS p50_ms,
    pct[2] AS p90_ms,
    pct[3] AS p95_ms,
    pct[4] AS p99_ms,
    max_ms
FROM (
    SELECT
        function_name,
        version,
        count(duration_ms) AS warm_invocations,
        quantile_disc(duration_ms, [0.5, 0.9, 0.95, 0.99]) AS pct,
        max(duration_ms) AS max_ms,
        min(ts) AS first_seen
    FROM invocations
    WHERE ($since IS NULL OR ts >= $since)
      AND ($until IS NULL OR ts < $until)
      AND ($function IS NULL OR function_name = $function)
      AND ($version IS NULL OR version = $version)
      AND NOT coalesce(cold_start, init_duration_ms IS NOT NULL)
      AND duration_ms IS NOT NULL
    GROUP BY function_name, version
)
ORDER BY function_name, first_seen, version
