package main

import (
	"os"
	"runtime/debug"

	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/storage"
)

// memoryLimitSlack is what the soft memory limit allows besides twice
// the storage budget: the capture queue, the journal's chunks, the
// decoder, an open file's fixed cost, the runtime.
const memoryLimitSlack = 32 << 20

// recordMemoryLimit is the soft memory limit record sets for the process
// (runtime/debug.SetMemoryLimit) when GOMEMLIMIT does not set one: twice
// --max-buffered (the open files' buffers and the garbage they leave
// between collections) plus memoryLimitSlack. The garbage collector then
// runs sooner than its default (twice the live heap) when that would
// pass the limit: 160 MiB for the default 64 MiB keeps 500 symbols under
// 200 MB of RSS. It is soft: a live heap above it is not refused.
// A zero maxBuffered stands for the storage default, as in storage.Config.
func recordMemoryLimit(maxBuffered int64) int64 {
	if maxBuffered <= 0 {
		maxBuffered = storage.DefaultMaxBuffered
	}
	return 2*maxBuffered + memoryLimitSlack
}

// setMemoryLimit applies recordMemoryLimit unless the environment sets
// GOMEMLIMIT; the returned function restores the previous limit.
func setMemoryLimit(maxBuffered int64, log zerolog.Logger) (restore func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	limit := recordMemoryLimit(maxBuffered)
	prev := debug.SetMemoryLimit(limit)
	log.Debug().Int64("memory_limit", limit).Msg("soft memory limit set")
	return func() { debug.SetMemoryLimit(prev) }
}
