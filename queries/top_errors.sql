-- name: top_errors
-- description: The most frequent errors (outcome error or timeout), grouped by function, error
--   type and the first line of the message (cut to 200 characters), with their share of all
--   errors, the versions they occur in and the latest request id as an example (of requests
--   starting at the same time, the greatest id, so every engine picks the same one).
-- param: since TIMESTAMP = NULL   -- start of the time window (inclusive, UTC)
-- param: until TIMESTAMP = NULL   -- end of the time window (exclusive, UTC)
-- param: function VARCHAR = NULL  -- only this function_name
-- param: version VARCHAR = NULL   -- only this version
-- param: limit INTEGER = 20       -- how many error groups to list
SELECT
    function_name,
    error_type,
    error_message,
    occurrences,
    round(100.0 * occurrences / sum(occurrences) OVER (), 3) AS pct_of_errors,
    versions,
    first_seen,
    last_seen,
    example_request_id
FROM (
    SELECT
        function_name,
        coalesce(error_type, outcome) AS error_type,
        left(split_part(coalesce(error_message, ''), chr(10), 1), 200) AS error_message,
        count(*) AS occurrences,
        string_agg(DISTINCT version, ', ' ORDER BY version) AS versions,
        min(ts) AS first_seen,
        max(ts) AS last_seen,
        arg_max(request_id, {'ts': ts, 'request_id': request_id}) AS example_request_id
    FROM invocations
    WHERE ($since IS NULL OR ts >= $since)
      AND ($until IS NULL OR ts < $until)
      AND ($function IS NULL OR function_name = $function)
      AND ($version IS NULL OR version = $version)
      AND coalesce(outcome, 'success') <> 'success'
    GROUP BY ALL
)
ORDER BY occurrences DESC, function_name, error_type, error_message
LIMIT $limit
