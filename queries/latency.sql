-- name: latency
-- description: Handler duration (duration_ms) per function: mean, p50/p90/p95/p99
--   (exact nearest-rank percentiles) and max.
-- param: since TIMESTAMP = NULL   -- start of the time window (inclusive, UTC)
-- param: until TIMESTAMP = NULL   -- end of the time window (exclusive, UTC)
-- param: function VARCHAR = NULL  -- only this function_name
-- param: version VARCHAR = NULL   -- only this version
SELECT
    function_name,
    invocations,
    round(avg_ms, 3) AS avg_ms,
    pct[1] AS p50_ms,
    pct[2] AS p90_ms,
    pct[3] AS p95_ms,
    pct[4] AS p99_ms,
    max_ms
FROM (
    SELECT
        function_name,
        count(duration_ms) AS invocations,
        avg(duration_ms) AS avg_ms,
        quantile_disc(duration_ms, [0.5, 0.9, 0.95, 0.99]) AS pct,
        max(duration_ms) AS max_ms
    FROM invocations
    WHERE ($since IS NULL OR ts >= $since)
      AND ($until IS NULL OR ts < $until)
      AND ($function IS NULL OR function_name = $function)
      AND ($version IS NULL OR version = $version)
      AND duration_ms IS NOT NULL
    GROUP BY function_name
)
ORDER BY invocations DESC, function_name
