package feed

import (
	"errors"
	"fmt"
	"time"
)

// ErrPermanent marks an error that retrying cannot fix: bad credentials, a
// captcha penalty, an unknown symbol, a rejected access token. Run returns
// such errors wrapped; test with errors.Is(err, ErrPermanent).
var ErrPermanent = errors.New("permanent error")

// permanent wraps a message as a permanent error.
func permanent(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrPermanent, fmt.Sprintf(format, args...))
}

// DropError says why a connection ended unexpectedly. Reason is one of the
// schema.Reason* drop reasons and becomes the `reason` column.
type DropError struct {
	Reason    string
	CloseCode int           // WebSocket or `c` frame close code, 0 if none
	Text      string        // close reason or error text (never a secret)
	Wait      time.Duration // a server-imposed wait before reconnecting (penalty, maintenance)
	Err       error
	// sinceData: the connection may have been silent (alive but without
	// data) for a while, so the gap starts at its last data frame rather
	// than its last frame.
	sinceData bool
}

func (e *DropError) Error() string {
	s := "connection dropped: " + e.Reason
	if e.CloseCode != 0 {
		s += fmt.Sprintf(" (code %d)", e.CloseCode)
	}
	if e.Text != "" {
		s += ": " + e.Text
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *DropError) Unwrap() error { return e.Err }

// drop builds a DropError.
func drop(reason string, err error) *DropError { return &DropError{Reason: reason, Err: err} }

// errLocalClose ends a connection that mdcap closed on purpose (rotation,
// user stop): not a drop.
var errLocalClose = errors.New("connection closed by mdcap")

// penaltyError reports a server-imposed wait on a request (429 lockout or a
// p-ticket penalty). The request may be retried after Wait, with Ticket.
type penaltyError struct {
	Status int
	Wait   time.Duration
	Ticket string
}

// reason names the penalty for the events row: a p-ticket wait or a 429
// rate-limit lockout.
func (e *penaltyError) reason() string {
	if e.Status == 429 {
		return ReasonRateLimited
	}
	return ReasonPenaltyTicket
}

// Reasons of EventPenalty and EventAnomaly (the `reason` column).
const (
	ReasonPenaltyTicket = "p_ticket"
	ReasonRateLimited   = "rate_limited"
	ReasonMalformed     = "malformed"
)

func (e *penaltyError) Error() string {
	return fmt.Sprintf("server penalty (status %d): wait %s", e.Status, e.Wait)
}

// statusError is a non-success response to a request.
type statusError struct {
	Endpoint string
	Status   int
	Text     string
}

func (e *statusError) Error() string {
	if e.Text == "" {
		return fmt.Sprintf("%s: status %d", e.Endpoint, e.Status)
	}
	return fmt.Sprintf("%s: status %d: %s", e.Endpoint, e.Status, e.Text)
}
