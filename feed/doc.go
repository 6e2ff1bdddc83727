// Package feed speaks Tradovate's market-data WebSocket protocol and keeps
// one subscription alive for as long as its context lives.
//
// A Session resolves the configured symbols to contract ids, obtains one
// access token (renewed before it expires and shared by every
// connection), then runs a supervisor loop: dial → wait for `o` →
// authorize with the raw token → subscribe every symbol → stream. Each
// connection has exactly one reader and one writer goroutine; the writer
// sends the client heartbeat `[]` every Heartbeat on its own ticker,
// WebSocket pings, requests and the close frame. Every frame and pong
// extends the read deadline, so a connection that is silent for
// StaleAfter is dead while a quiet market is not.
//
// Every unexpected end of a connection is a drop, classified as eof,
// read_error, stale, server_close, request_timeout or shutdown_event
// (schema.Reason*), reported as EventDown with the receive time of the
// last frame, and followed by a reconnect with exponential backoff and
// full jitter (a server penalty or maintenance wait overrides it). Before
// MaxConnAge a connection is rotated make-before-break: the next one is
// subscribed, each symbol switches when the two streams overlap, updates
// seen on both are passed on once, and the old one is closed politely.
//
// The consumer gets one ordered stream through a Handler: data Batches
// (decoded without reflection or allocation) and lifecycle Events. Run
// returns nil after a clean stop and an error only when retrying cannot
// help (errors.Is(err, ErrPermanent)).
package feed
