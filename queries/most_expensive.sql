-- name: most_expensive
-- description: The most expensive single invocations, ranked by billed GB-seconds (billed
--   duration x memory), with their estimated compute cost. With one memory size this is the
--   same order as the Logs Insights sample's sort by @billedDuration.
-- param: since TIMESTAMP = NULL   -- start of the time window (inclusive, UTC)
-- param: until TIMESTAMP = NULL   -- end of the time window (exclusive, UTC)
-- param: function VARCHAR = NULL  -- only this function_name
-- param: version VARCHAR = NULL   -- only this version
-- param: limit INTEGER = 100      -- how many invocations to list
-- param: price_per_gb_second DOUBLE = 0.0000166667 -- USD per GB-second of compute
SELECT
    ts,
    function_name,
    version,
    request_id,
    outcome,
    http_route,
    duration_ms,
    billed_duration_ms,
    memory_size_mb,
    round(gb_s, 6) AS billed_gb_s,
    round(gb_s * $price_per_gb_second, 9) AS compute_cost_usd
FROM (
    -- rank first, then round and price only the rows kept (keeps 10 M-row scans fast)
    SELECT
        ts, function_name, version, request_id, outcome, http_route, duration_ms,
        billed_duration_ms, memory_size_mb,
        coalesce(billed_duration_ms, ceil(duration_ms)) / 1000.0 * memory_size_mb / 1024.0
            AS gb_s
    FROM invocations
    WHERE ($since IS NULL OR ts >= $since)
      AND ($until IS NULL OR ts < $until)
      AND ($function IS NULL OR function_name = $function)
      AND ($version IS NULL OR version = $version)
      AND gb_s IS NOT NULL
    ORDER BY gb_s DESC, ts, request_id
    LIMIT $limit
)
ORDER BY gb_s DESC, ts, request_id
