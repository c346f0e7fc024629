-- name: error_rate
-- description: Invocations, errors, timeouts and error rate per function. An error is any
--   outcome other than 'success' (errors and timeouts), the way Lambda's Errors metric counts.
-- param: since TIMESTAMP = NULL   -- start of the time window (inclusive, UTC)
-- param: until TIMESTAMP = NULL   -- end of the time window (exclusive, UTC)
-- param: function VARCHAR = NULL  -- only this function_name
-- param: version VARCHAR = NULL   -- only this version
SELECT
    function_name,
    count(*) AS invocations,
    count_if(coalesce(outcome, 'success') <> 'success') AS errors,
    count_if(outcome = 'timeout') AS timeouts,
    round(100.0 * count_if(coalesce(outcome, 'success') <> 'success') / count(*), 3) AS error_rate_pct
FROM invocations
WHERE ($since IS NULL OR ts >= $since)
  AND ($until IS NULL OR ts < $until)
  AND ($function IS NULL OR function_name = $function)
  AND ($version IS NULL OR version = $version)
GROUP BY function_name
ORDER BY invocations DESC, function_name
