#!/usr/bin/env bash
# Regenerate the JSON Schemas the Grafana dashboard tests validate against.
#
# Grafana cannot run here, so the dashboards are checked against JSON Schemas
# generated from the TypeScript types that the npm package @grafana/schema ships
# (it ships no JSON Schema of its own): the classic dashboard model
# (raw/dashboard/x/types.gen.d.ts, type Dashboard) and the options/field-config
# types of the panel plugins fnlens uses. Output is committed next to this
# script with VERSIONS.json, so the tests never need npm; rerun this script to
# move to a newer Grafana schema.
#
#   tests/dashboards/grafana_schema/generate.sh            # pinned versions below
#   GRAFANA_SCHEMA_VERSION=13.3.0 tests/dashboards/grafana_schema/generate.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
schema_version="${GRAFANA_SCHEMA_VERSION:-13.2.3}"
generator_version="${TS_JSON_SCHEMA_GENERATOR_VERSION:-2.4.0}"
work="${FNLENS_NPM_CACHE_DIR:-$(mktemp -d)}"
mkdir -p "$work"
cd "$work"
[ -f package.json ] || npm init -y >/dev/null
npm install --no-audit --no-fund --silent \
  "@grafana/schema@${schema_version}" \
  "ts-json-schema-generator@${generator_version}"
types="$work/node_modules/@grafana/schema/dist/types/raw"

generate() { # output-name types-file type-name
  npx --no-install ts-json-schema-generator --path "$2" --type "$3" --no-type-check \
    --expose export -o "$here/$1.schema.json"
  echo "generated $1.schema.json ($3 from ${2#"$work/node_modules/"})"
}
generate dashboard "$types/dashboard/x/types.gen.d.ts" Dashboard
for panel in timeseries table stat; do
  generate "panel-$panel-options" "$types/composable/$panel/panelcfg/x/types.gen.d.ts" Options
done
for panel in timeseries table; do
  generate "panel-$panel-fieldconfig" "$types/composable/$panel/panelcfg/x/types.gen.d.ts" FieldConfig
done

installed="$(node -p "require('$work/node_modules/@grafana/schema/package.json').version")"
cat > "$here/VERSIONS.json" <<JSON
{
  "@grafana/schema": "${installed}",
  "ts-json-schema-generator": "${generator_version}",
  "typescript": "$(node -p "require('$work/node_modules/typescript/package.json').version")",
  "generated_by": "tests/dashboards/grafana_schema/generate.sh"
}
JSON
echo "wrote VERSIONS.json (@grafana/schema ${installed})"
