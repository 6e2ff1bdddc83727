// Package bench measures mdcap against the wire limit: it runs the
// simulator in blast mode as its own process and, against the same blast,
// a read-and-discard client (the wire limit), a decode-only client (the
// feed's reader with a handler that counts) and the real `mdcap record`
// writing a dataset. Each run gets a fresh simulator, so the CPU of the
// server and of the client are measured separately from /proc and
// getrusage. cmd/mdcap-bench is its command line; scripts/bench builds
// and runs it.
package bench
