-- name: cost
-- description: Billed GB-seconds and estimated cost in USD per function, version and memory
--   size: billed ms / 1000 * memory_size_mb / 1024, plus a per-request charge. Billed ms is
--   billed_duration_ms (the handler duration rounded up to the next ms when unknown), plus
--   billed_restore_duration_ms (SnapStart), plus the Init Duration of on-demand cold starts
--   from init_billed_since on (Lambda bills INIT since 2025-08-01) unless the billed duration
--   already includes it (container images, custom runtimes). Defaults are AWS's x86
--   on-demand prices in us-east-1 (arm64: 0.0000133334 per GB-s); free tier ignored.
--   The GB-second model does not apply to Lambda Managed Instances (init_type
--   managed-instances), billed per instance: pricing_note says so on the rows it concerns.
-- param: since TIMESTAMP = NULL                -- start of the time window (inclusive, UTC)
-- param: until TIMESTAMP = NULL                -- end of the time window (exclusive, UTC)
-- param: function VARCHAR = NULL               -- only this function_name
-- param: version VARCHAR = NULL                -- only this version
-- param: price_per_gb_second DOUBLE = 0.0000166667 -- USD per GB-second of compute
-- param: price_per_request DOUBLE = 0.0000002  -- USD per request (0.20 per million)
-- param: init_billed_since TIMESTAMP = '2025-08-01' -- from when on-demand INIT time is billed
SELECT
    function_name,
    version,
    memory_size_mb,
    invocations,
    round(billed_gb_s, 6) AS billed_gb_s,
    round(billed_gb_s * $price_per_gb_second, 6) AS compute_cost_usd,
    round(invocations * $price_per_request, 6) AS request_cost_usd,
    round(billed_gb_s * $price_per_gb_second + invocations * $price_per_request, 6)
        AS total_cost_usd,
    round(1e6 * (billed_gb_s * $price_per_gb_second + invocations * $price_per_request)
        / invocations, 6) AS cost_per_million_usd,
    CASE WHEN managed_instances > 0 THEN
        'Lambda Managed Instances: billed per EC2 instance plus a management fee, not per '
        || 'GB-second; ' || managed_instances || ' of these invocations ran there'
    END AS pricing_note
FROM (
    SELECT
        function_name,
        version,
        memory_size_mb,
        count(*) AS invocations,
        count_if(init_type = 'managed-instances') AS managed_instances,
        coalesce(sum((
            coalesce(billed_duration_ms, ceil(duration_ms))
            + coalesce(billed_restore_duration_ms, 0)
            + CASE WHEN init_duration_ms IS NOT NULL
                    AND ts >= $init_billed_since
                    AND coalesce(init_type, 'on-demand') = 'on-demand'
                    AND coalesce(billed_duration_ms, ceil(duration_ms))
                        < coalesce(duration_ms, 0) + init_duration_ms
                   THEN ceil(init_duration_ms) ELSE 0 END
        ) / 1000.0 * memory_size_mb / 1024.0), 0) AS billed_gb_s
    FROM invocations
    WHERE ($since IS NULL OR ts >= $since)
      AND ($until IS NULL OR ts < $until)
      AND ($function IS NULL OR function_name = $function)
      AND ($version IS NULL OR version = $version)
    GROUP BY function_name, version, memory_size_mb
)
ORDER BY total_cost_usd DESC, function_name, version, memory_size_mb
