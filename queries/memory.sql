-- name: memory
-- description: Memory right-sizing per function and configured memory size: memory used
--   (min / mean / p95 / max of max_memory_used_mb), peak utilisation, over-provisioned MB,
--   invocations that used all configured memory, and a suggested size (peak plus headroom,
--   within Lambda's 128-10240 MB). Memory also sets CPU, so check latency before shrinking.
-- param: since TIMESTAMP = NULL    -- start of the time window (inclusive, UTC)
-- param: until TIMESTAMP = NULL    -- end of the time window (exclusive, UTC)
-- param: function VARCHAR = NULL   -- only this function_name
-- param: version VARCHAR = NULL    -- only this version
-- param: headroom_pct DOUBLE = 20  -- headroom above the peak for the suggested size, in percent
SELECT
    function_name,
    memory_size_mb,
    invocations,
    min_used_mb,
    round(avg_used_mb, 3) AS avg_used_mb,
    p95_used_mb,
    max_used_mb,
    round(100.0 * max_used_mb / memory_size_mb, 3) AS peak_utilisation_pct,
    memory_size_mb - max_used_mb AS over_provisioned_mb,
    at_limit,
    CAST(least(10240, greatest(128, ceil(max_used_mb * (1 + $headroom_pct / 100.0))))
        AS INTEGER) AS suggested_memory_mb
FROM (
    SELECT
        function_name,
        memory_size_mb,
        count(*) AS invocations,
        min(max_memory_used_mb) AS min_used_mb,
        avg(max_memory_used_mb) AS avg_used_mb,
        quantile_disc(max_memory_used_mb, 0.95) AS p95_used_mb,
        max(max_memory_used_mb) AS max_used_mb,
        count_if(max_memory_used_mb >= memory_size_mb) AS at_limit
    FROM invocations
    WHERE ($since IS NULL OR ts >= $since)
      AND ($until IS NULL OR ts < $until)
      AND ($function IS NULL OR function_name = $function)
      AND ($version IS NULL OR version = $version)
      AND memory_size_mb IS NOT NULL
      AND max_memory_used_mb IS NOT NULL
    GROUP BY function_name, memory_size_mb
)
ORDER BY over_provisioned_mb DESC, function_name, memory_size_mb
