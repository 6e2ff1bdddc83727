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

# Each fuzz target runs briefly on top of its committed corpus (testdata/fuzz),
# so CI keeps them alive; MDCAP_FUZZTIME=1m for a longer look. The default
# is a count of inputs, not a duration: a time limit that expires while a
# slow input is running makes go test report "context deadline exceeded"
# as a failure.
fuzztime=${MDCAP_FUZZTIME:-2000x}
for target in \
	./feed:FuzzParseFrame ./feed:FuzzDecode ./feed:FuzzParseNumber \
	./sim:FuzzParseRequest ./sim:FuzzHandle \
	./schema:FuzzSymbolRoundTrip ./storage:FuzzReadParquet \
	./cmd/mdcap:FuzzConfigFile ./cmd/mdcap:FuzzInspect ./verify:FuzzRunCorrupt \
	./journal:FuzzReadSegment ./journal:FuzzDecodeBlock; do
	go test -run '^$' -fuzz "^${target#*:}\$" -fuzztime "$fuzztime" "${target%%:*}"
done

# A short soak: record against sim (separate processes) with faults every
# few seconds; fails on leaks or data lost outside a gap.
scripts/soak --duration 25s --fault-every 4s
