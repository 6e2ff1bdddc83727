package feed

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"
)

// Credentials are what the access-token request sends. Password and Sec
// are Secrets: they never reach a log line or an error.
type Credentials struct {
	Username   string
	Password   Secret
	AppID      string
	AppVersion string
	CID        string
	Sec        Secret
	DeviceID   string
}

// empty reports whether no credentials were given.
func (c Credentials) empty() bool { return c.Username == "" && c.Password == "" }

// Config configures a Session. Zero durations and limits take the defaults
// named on each field.
type Config struct {
	MDURL       string // market-data WebSocket URL (…/v1/websocket)
	AuthURL     string // REST base (…/v1): auth/accesstokenrequest, auth/renewaccesstoken, contract/find
	Credentials Credentials
	AccessToken Secret // use instead of requesting one
	Symbols     []string
	DOM         bool // also subscribe md/subscribeDOM

	Heartbeat      time.Duration // client heartbeat `[]` period; default 2.5s
	StaleAfter     time.Duration // no frame and no pong for this long ⇒ dead; default 10s
	PingInterval   time.Duration // WebSocket ping period; default StaleAfter/3
	RequestTimeout time.Duration // a request without response after this drops the connection; default 10s
	MaxConnAge     time.Duration // rotate (make-before-break) before this age; default 23h; <0 disables
	RotateGrace    time.Duration // how long a rotation waits for overlap before switching anyway; default 2×StaleAfter
	ReadLimit      int64         // maximum frame size; default 16 MiB

	BackoffMin time.Duration // first reconnect delay bound; default 500ms
	BackoffMax time.Duration // reconnect delay cap; default 30s
	ResetAfter time.Duration // a connection that lived this long resets the backoff; default 1m
	// LockoutWait is the wait after a 429 (the server names none); default 30s.
	LockoutWait time.Duration
	// MaintenanceWait is the wait before reconnecting after a `shutdown`
	// event with reasonCode Maintenance; default 30s. Other shutdowns wait BackoffMin.
	MaintenanceWait time.Duration
	// CaptchaWait is how long a p-captcha penalty is said to last (only reported).
	CaptchaWait time.Duration

	// RequestRate and RequestBurst shape outbound requests (heartbeats
	// excluded) as a token bucket: at most RequestBurst+RequestRate
	// requests in any one second. Defaults 10/s and 10.
	RequestRate  float64
	RequestBurst int

	RenewBefore time.Duration // renew the token this long before it expires; default 15m

	HTTPClient *http.Client      // nil: a client with RequestTimeout
	Dialer     *websocket.Dialer // nil: a dialer with RequestTimeout handshake timeout
	Logger     zerolog.Logger
}

// withDefaults returns cfg with every zero field set to its default.
func (cfg Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.Heartbeat, 2500*time.Millisecond)
	def(&cfg.StaleAfter, 10*time.Second)
	def(&cfg.PingInterval, cfg.StaleAfter/3)
	def(&cfg.RequestTimeout, 10*time.Second)
	def(&cfg.MaxConnAge, 23*time.Hour)
	def(&cfg.RotateGrace, 2*cfg.StaleAfter)
	def(&cfg.BackoffMin, 500*time.Millisecond)
	def(&cfg.BackoffMax, 30*time.Second)
	def(&cfg.ResetAfter, time.Minute)
	def(&cfg.LockoutWait, 30*time.Second)
	def(&cfg.MaintenanceWait, 30*time.Second)
	def(&cfg.CaptchaWait, time.Hour)
	def(&cfg.RenewBefore, 15*time.Minute)
	if cfg.ReadLimit == 0 {
		cfg.ReadLimit = 16 << 20
	}
	if cfg.RequestRate == 0 {
		cfg.RequestRate = 10
	}
	if cfg.RequestBurst == 0 {
		cfg.RequestBurst = 10
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: cfg.RequestTimeout}
	}
	if cfg.Dialer == nil {
		cfg.Dialer = &websocket.Dialer{
			HandshakeTimeout: cfg.RequestTimeout,
			Proxy:            http.ProxyFromEnvironment,
			ReadBufferSize:   64 << 10,
			WriteBufferSize:  16 << 10,
		}
	}
	return cfg
}

// validate checks a defaulted config.
func (cfg Config) validate() error {
	var errs []error
	if cfg.MDURL == "" {
		errs = append(errs, errors.New("feed.Config.MDURL: required"))
	}
	if len(cfg.Symbols) == 0 {
		errs = append(errs, errors.New("feed.Config.Symbols: at least one symbol required"))
	}
	seen := map[string]bool{}
	for _, s := range cfg.Symbols {
		if s == "" {
			errs = append(errs, errors.New("feed.Config.Symbols: empty symbol"))
		}
		if seen[s] {
			errs = append(errs, fmt.Errorf("feed.Config.Symbols: %q listed twice", s))
		}
		seen[s] = true
	}
	if cfg.AccessToken == "" && cfg.Credentials.empty() {
		errs = append(errs, errors.New("feed.Config: credentials or an access token required"))
	}
	if cfg.AccessToken == "" && cfg.AuthURL == "" {
		errs = append(errs, errors.New("feed.Config.AuthURL: required to request an access token"))
	}
	pos := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("feed.Config.%s: must be positive, got %s", name, d))
		}
	}
	pos("Heartbeat", cfg.Heartbeat)
	pos("StaleAfter", cfg.StaleAfter)
	pos("PingInterval", cfg.PingInterval)
	pos("RequestTimeout", cfg.RequestTimeout)
	pos("BackoffMin", cfg.BackoffMin)
	if cfg.BackoffMax < cfg.BackoffMin {
		errs = append(errs, fmt.Errorf("feed.Config.BackoffMax: %s is below BackoffMin %s", cfg.BackoffMax, cfg.BackoffMin))
	}
	if cfg.Heartbeat >= cfg.StaleAfter {
		errs = append(errs, fmt.Errorf("feed.Config.Heartbeat: %s must be below StaleAfter %s", cfg.Heartbeat, cfg.StaleAfter))
	}
	if cfg.RequestRate < 0 || cfg.RequestBurst < 1 {
		errs = append(errs, errors.New("feed.Config.RequestRate/RequestBurst: must be positive"))
	}
	return errors.Join(errs...)
}
