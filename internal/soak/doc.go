// Package soak runs `mdcap record` against `mdcap sim` for a long time,
// as separate processes, with the simulator injecting faults on a schedule
// (drops, stalls, close frames, shutdown events, malformed frames), and
// samples the recorder's resident memory, open file descriptors and
// goroutines. It fails when one of them keeps growing (the last third of
// the run above the middle third by more than a tolerance) or when the
// dataset breaks the gap contract against the simulator's ground truth.
// cmd/mdcap-soak is its command and scripts/soak builds and runs it.
package soak
