-- name: slow_routes
-- description: HTTP routes (method + route template) ranked by p95 handler duration, with
--   p50/p99, max and error rate. Invocations without a route (non-HTTP triggers) are left out.
-- param: since TIMESTAMP = NULL      -- start of the time window (inclusive, UTC)
-- param: until TIMESTAMP = NULL      -- end of the time window (exclusive, UTC)
-- param: function VARCHAR = NULL     -- only this function_name
-- param: version VARCHAR = NULL      -- only this version
-- param: min_invocations INTEGER = 1 -- ignore routes called fewer times than this
-- param: limit INTEGER = 20          -- how many routes to list
SELECT
    function_name,
    http_method,
    http_route,
    invocations,
    pct[1] AS p50_ms,
    pct[2] AS p95_ms,
    pct[3] AS p99_ms,
    max_ms,
    round(100.0 * errors / invocations, 3) AS error_rate_pct
FROM (
    SELECT
        function_name,
        http_method,
        http_route,
        count(*) AS invocations,
        quantile_disc(duration_ms, [0.5, 0.95, 0.99]) AS pct,
        max(duration_ms) AS max_ms,
        count_if(coalesce(outcome, 'success') <> 'success') AS errors
    FROM invocations
    WHERE ($since IS NULL OR ts >= $since)
      AND ($until IS NULL OR ts < $until)
      AND ($function IS NULL OR function_name = $function)
      AND ($version IS NULL OR version = $version)
      AND http_route IS NOT NULL
    GROUP BY function_name, http_method, http_route
    HAVING count(*) >= $min_invocations
)
ORDER BY p95_ms DESC NULLS LAST, invocations DESC, function_name, http_method, http_route
LIMIT $limit
