package sim

import (
	"io"
	"time"

	"github.com/rs/zerolog"
)

// Default credentials accepted by DefaultConfig.
const (
	DefaultUsername = "sim"
	DefaultPassword = "sim-password"
	DefaultAppID    = "mdcap"
	DefaultCID      = "8"
	DefaultSec      = "sim-secret"
)

// Contract is one tradable contract the simulator knows.
type Contract struct {
	ID       int64   // contract id, as in contractId of md events
	Name     string  // symbol, e.g. ESZ6
	TickSize float64 // price grid
	Price    float64 // starting price (settlement of the previous session)
	Rate     float64 // updates per second; 0 ⇒ Config.Rate
	// ValuePerPoint of the product (product/find).
	ValuePerPoint float64
}

// User is an account that may request access tokens.
type User struct {
	ID       int64
	Name     string
	Password string
	AppID    string // checked when not empty
	CID      string // checked when not empty (number or string on the wire)
	Sec      string // checked when not empty
}

// TokenExpiryPolicy says what happens to an authorized socket when its
// token expires (TRADOVATE.md §2.3 reports both behaviours).
type TokenExpiryPolicy string

const (
	// TokenKeep keeps the socket open and streaming (APIDOC "authorize").
	TokenKeep TokenExpiryPolicy = "keep"
	// TokenSilent keeps the socket open but stops sending market data
	// (the forum report of a replay socket going silent).
	TokenSilent TokenExpiryPolicy = "silent"
	// TokenCut cuts the TCP connection without a close frame.
	TokenCut TokenExpiryPolicy = "cut"
)

// Rules are the server's connection rules. A rule whose limit is zero is
// off. Every rule that ends a connection cuts TCP with no close frame, as
// users report the real server does.
type Rules struct {
	// Heartbeat is how long the server stays silent before it sends `h`
	// (2.5 s). An `h` is sent only when no other frame went out for this long.
	Heartbeat time.Duration
	// ClientTimeout: no client frame (request or `[]`) for this long cuts the
	// connection. The real value is undocumented; default 10 s (four missed
	// 2.5 s client heartbeats).
	ClientTimeout time.Duration
	// AuthorizeTimeout: no successful authorize within this long after the
	// upgrade cuts the connection (default 10 s; real value unknown).
	AuthorizeTimeout time.Duration
	// CutDuplicateID: a request id reused on one connection cuts it.
	CutDuplicateID bool
	// MaxRequestsPerSecond: more requests than this within any one second
	// cuts the connection (default 50; heartbeats do not count).
	MaxRequestsPerSecond int
	// MaxConnAge: a connection older than this is cut (default 24 h).
	MaxConnAge time.Duration
	// MaxConnsPerUser: when a user authorizes one more socket than this, the
	// oldest gets a `shutdown` event (ConnectionQuotaReached), a close frame,
	// and its token is revoked if it is not the newcomer's token (default 50).
	MaxConnsPerUser int
	// MaxIPsPerUser: when a user's authorized sockets come from more
	// client addresses than this, the oldest gets a shutdown event
	// (IPQuotaReached) and a close frame (default 5).
	MaxIPsPerUser int
	// Lockout: more than LockoutRequests requests within LockoutWindow on one
	// connection start a lockout of LockoutFor during which every request is
	// answered 429; requests during the lockout extend it. 0 ⇒ off.
	LockoutRequests int
	LockoutWindow   time.Duration
	LockoutFor      time.Duration
	// TokenExpiry: what an authorized socket does when its session's token
	// expires (default TokenKeep).
	TokenExpiry TokenExpiryPolicy
	// MaxFrameBytes: a client frame larger than this cuts the connection
	// (default 64 KiB).
	MaxFrameBytes int64
}

// FaultKind names a fault the simulator can inject.
type FaultKind string

const (
	FaultDrop        FaultKind = "drop"        // cut every TCP connection, no close frame
	FaultStall       FaultKind = "stall"       // stop reading and writing for Duration, keep TCP
	FaultClose       FaultKind = "close"       // c[Code,"Reason"], WebSocket close, then TCP close
	FaultShutdown    FaultKind = "shutdown"    // shutdown event (Reason code), c[...], close
	FaultMalformed   FaultKind = "malformed"   // one malformed frame (Malformed kind in Reason)
	FaultExpireToken FaultKind = "expiretoken" // every token expires now
	FaultPenalty     FaultKind = "penalty"     // the next Code (default 1) md/subscribe requests get a p-ticket
)

// Fault is one scheduled fault: at each time in At (offsets from Start)
// and, when Every > 0, every Every after Start.
type Fault struct {
	Kind     FaultKind
	Every    time.Duration
	At       []time.Duration
	Duration time.Duration // stall length
	Code     int           // close code (FaultClose), request count (FaultPenalty)
	Reason   string        // close reason, shutdown reasonCode, or malformed kind
}

// Config configures a Server. Start from DefaultConfig.
type Config struct {
	// Addr to listen on (default "127.0.0.1:0"). A non-loopback address is
	// refused unless AllowRemote is set.
	Addr        string
	AllowRemote bool
	// Seed makes the generated market data repeatable.
	Seed int64
	// Contracts served (default ESZ6, NQZ6, CLZ6, GCZ6).
	Contracts []Contract
	// Users that may log in (default one user with the Default* credentials).
	Users []User
	// Rate is the default number of updates per second per contract (10).
	Rate float64
	// UpdatesPerFrame caps the md updates batched into one a[...] frame (16).
	UpdatesPerFrame int
	// SendQueue bounds each connection's pending md updates (256). When it is
	// full, a new update replaces the pending one of the same contract and
	// type (merging quote entries), or else the oldest pending update is
	// dropped: the conflation the real server applies to slow readers. Only
	// what is actually written reaches the ground truth.
	SendQueue int
	// SocketBuffer, when > 0, sets each connection's kernel send buffer
	// (bytes), so that a slow reader reaches conflation sooner (0: the OS
	// default, which lets a few MB pile up on loopback first).
	SocketBuffer int
	// DOMLevels per side (10).
	DOMLevels int
	// TokenLifetime of access tokens (90 min).
	TokenLifetime time.Duration
	// MaxSessions per user; one more token request revokes the oldest (2).
	MaxSessions int
	// AuthPenalty: after this many failed access-token requests in a row a
	// user gets a p-ticket (p-time PenaltyWait, p-captcha PenaltyCaptcha)
	// instead of an answer. 0 ⇒ never.
	AuthPenaltyAfter int
	PenaltyWait      time.Duration
	PenaltyCaptcha   bool
	// Rules of the server.
	Rules Rules
	// Faults scheduled from Start.
	Faults []Fault
	// Blast, when Blast.Updates > 0, replaces the rate-driven stream by a
	// blast of pre-generated frames (see Blast).
	Blast Blast
	// GroundTruth, when not nil, receives one JSON object per line for every
	// md update written to a socket,
	//   {"t":<send unix ns>,"conn":N,"symbol":"ESZ6","contractId":N,
	//    "type":"quote"|"dom","ts":"<server timestamp>","d":<object as sent>}
	// and every connection end, {"t":…,"conn":N,"end":"<End* cause>"}.
	// Lines of one connection are in send order and its end comes last. It
	// is buffered and flushed on Close.
	GroundTruth io.Writer
	// Logger for the server's own log.
	Logger zerolog.Logger
}

// DefaultContracts are the contracts of DefaultConfig.
func DefaultContracts() []Contract {
	return []Contract{
		{ID: 3570918, Name: "ESZ6", TickSize: 0.25, Price: 6012.25, ValuePerPoint: 50},
		{ID: 3570919, Name: "NQZ6", TickSize: 0.25, Price: 21850.75, ValuePerPoint: 20},
		{ID: 3570920, Name: "CLZ6", TickSize: 0.01, Price: 64.37, ValuePerPoint: 1000},
		{ID: 3570921, Name: "GCZ6", TickSize: 0.1, Price: 2641.3, ValuePerPoint: 100},
	}
}

// DefaultRules are the rules of DefaultConfig.
func DefaultRules() Rules {
	return Rules{
		Heartbeat:            2500 * time.Millisecond,
		ClientTimeout:        10 * time.Second,
		AuthorizeTimeout:     10 * time.Second,
		CutDuplicateID:       true,
		MaxRequestsPerSecond: 50,
		MaxConnAge:           24 * time.Hour,
		MaxConnsPerUser:      50,
		MaxIPsPerUser:        5,
		TokenExpiry:          TokenKeep,
		MaxFrameBytes:        64 << 10,
	}
}

// DefaultConfig returns a configuration that accepts the Default*
// credentials and streams the DefaultContracts at 10 updates per second.
func DefaultConfig() Config {
	return Config{
		Addr:      "127.0.0.1:0",
		Seed:      1,
		Contracts: DefaultContracts(),
		Users: []User{{
			ID: 90, Name: DefaultUsername, Password: DefaultPassword,
			AppID: DefaultAppID, CID: DefaultCID, Sec: DefaultSec,
		}},
		Rate:            10,
		UpdatesPerFrame: 16,
		SendQueue:       256,
		DOMLevels:       10,
		TokenLifetime:   90 * time.Minute,
		MaxSessions:     2,
		PenaltyWait:     5 * time.Second,
		Rules:           DefaultRules(),
		Logger:          zerolog.Nop(),
	}
}
