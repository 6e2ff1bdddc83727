package schema

// Event kinds (the `kind` column).
const (
	KindStart      = "start"
	KindStop       = "stop"
	KindConnect    = "connect"
	KindSubscribe  = "subscribe"
	KindDisconnect = "disconnect"
	KindReconnect  = "reconnect"
	KindGap        = "gap"
	KindHeal       = "heal"
	KindRotate     = "rotate"
	KindPenalty    = "penalty"
	KindShutdown   = "shutdown"
	KindOverflow   = "overflow"
	KindAnomaly    = "anomaly"
)

// Reasons (the `reason` column) for drops and gaps.
const (
	ReasonEOF            = "eof"
	ReasonReadError      = "read_error"
	ReasonStale          = "stale"
	ReasonServerClose    = "server_close"
	ReasonRequestTimeout = "request_timeout"
	ReasonShutdownEvent  = "shutdown_event"
	ReasonBufferFull     = "buffer_full"
	ReasonCrashRecovery  = "crash_recovery"
	ReasonWriteError     = "write_error"
	ReasonUserStop       = "user_stop"
)

// Source values of the ticks table.
const (
	SourceLive     = "live"
	SourceBackfill = "backfill"
)
