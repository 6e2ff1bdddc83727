#!/usr/bin/env bash
# Installs the independent Parquet readers (DuckDB, Apache Arrow via
# parquet-wasm) that mdcap's tests use to read the dataset the way users
# do. Without node and npm it says so and exits 0: the tests that need
# the readers then skip with a message.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "scripts/readers: node/npm not found; DuckDB and Arrow reader tests will be skipped" >&2
	exit 0
fi
if [ -d node_modules/@duckdb/node-api ] && [ -d node_modules/parquet-wasm ] && [ -d node_modules/apache-arrow ] &&
	[ node_modules/.package-lock.json -nt package-lock.json ]; then
	exit 0
fi
if ! npm ci --no-audit --no-fund --loglevel=error; then
	echo "scripts/readers: npm ci failed; DuckDB and Arrow reader tests will be skipped" >&2
	exit 0
fi
