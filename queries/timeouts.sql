-- name: timeouts
-- description: Timed-out invocations (outcome = 'timeout') per time bucket and function, with
--   the share of all invocations in that bucket and the longest duration seen. Only buckets
--   with at least one timeout are listed, as in the Logs Insights sample query.
-- param: since TIMESTAMP = NULL     -- start of the time window (inclusive, UTC)
-- param: until TIMESTAMP = NULL     -- end of the time window (exclusive, UTC)
-- param: function VARCHAR = NULL    -- only this function_name
-- param: version VARCHAR = NULL     -- only this version
-- param: bucket INTERVAL = '5 minutes' -- bucket size, e.g. '5 minutes', '1h', '1 day'
SELECT
    time_bucket($bucket, ts) AS bucket,
    function_name,
    count_if(outcome = 'timeout') AS timeouts,
    count(*) AS invocations,
    round(100.0 * count_if(outcome = 'timeout') / count(*), 3) AS timeout_pct,
    max(duration_ms) FILTER (WHERE outcome = 'timeout') AS max_timeout_duration_ms,
    string_agg(DISTINCT version, ', ' ORDER BY version) FILTER (WHERE outcome = 'timeout')
        AS versions
FROM invocations
WHERE ($since IS NULL OR ts >= $since)
  AND ($until IS NULL OR ts < $until)
  AND ($function IS NULL OR function_name = $function)
  AND ($version IS NULL OR version = $version)
GROUP BY bucket, function_name
HAVING count_if(outcome = 'timeout') > 0
ORDER BY bucket, function_name
