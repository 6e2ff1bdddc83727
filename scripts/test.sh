#!/usr/bin/env bash
# mdcap's test command (the one the README shows and CI runs): installs
# what the tests need, then runs go vet and the race-enabled test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# Readers the tests use to check the Parquet output the way users do.
# Each installer skips with a message when it cannot install.
if [ -x scripts/readers/install.sh ]; then
	scripts/readers/install.sh
fi
scripts/install-chromium.sh # headless check of the verify-gaps HTML page

go vet ./...
go test -race -count=1 -timeout 20m "$@" ./...
