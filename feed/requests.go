package feed

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/mdcap/mdcap/schema"
)

// call is one request in flight on a connection.
type call struct {
	id       int64
	endpoint string
	query    string
	body     []byte
	// onOK runs on the reader goroutine when a success response arrives,
	// before any later frame is handled (used to order EventSubscribed
	// before the data it announces).
	onOK func()

	done   chan struct{}
	status int
	d      []byte // copied response payload
	err    error  // set when the connection failed before a response
}

// pendingTable holds a connection's requests awaiting a response, keyed
// by id. A drop fails them all at once.
type pendingTable struct {
	mu     sync.Mutex
	calls  map[int64]*call
	closed error
}

func (p *pendingTable) add(c *call) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed != nil {
		return p.closed
	}
	if p.calls == nil {
		p.calls = make(map[int64]*call)
	}
	p.calls[c.id] = c
	return nil
}

// take removes and returns the call with id.
func (p *pendingTable) take(id int64) *call {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.calls[id]
	delete(p.calls, id)
	return c
}

// failAll fails every pending call with err and refuses new ones.
func (p *pendingTable) failAll(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = err
	for id, c := range p.calls {
		c.err = err
		close(c.done)
		delete(p.calls, id)
	}
}

// send queues a request on the connection; ids come from the session's
// counter, so they are unique for the life of the process. It waits for
// the outbound rate limiter first.
func (c *conn) send(ctx context.Context, endpoint, query string, body []byte, onOK func()) (*call, error) {
	if err := c.s.limiter.Wait(ctx); err != nil {
		return nil, err
	}
	cl := &call{id: c.s.nextID.Add(1), endpoint: endpoint, query: query, body: body, onOK: onOK, done: make(chan struct{})}
	if err := c.pend.add(cl); err != nil {
		return nil, err
	}
	frame := appendRequest(nil, endpoint, cl.id, query, body)
	select {
	case c.sendq <- frame:
		return cl, nil
	case <-c.ctx.Done():
		return nil, context.Cause(c.ctx)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// wait waits for cl's response. A response that does not come within
// RequestTimeout drops the connection (reason request_timeout). Non-2xx
// responses become statusError; 429 and p-ticket answers penaltyError.
func (c *conn) wait(ctx context.Context, cl *call) error {
	t := time.NewTimer(c.s.cfg.RequestTimeout)
	defer t.Stop()
	select {
	case <-cl.done:
	case <-t.C:
		err := &DropError{Reason: schema.ReasonRequestTimeout, Text: "no response to " + cl.endpoint + " within " + c.s.cfg.RequestTimeout.String()}
		c.fail(err)
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
	if cl.err != nil {
		return cl.err
	}
	return c.s.judge(cl.endpoint, cl.status, cl.d)
}

// judge turns a response status and payload into an error (nil on success).
func (s *Session) judge(endpoint string, status int, d []byte) error {
	switch {
	case status == 429:
		return &penaltyError{Status: status, Wait: s.cfg.LockoutWait}
	case status >= 200 && status < 300:
		if p, ok := penaltyOf(d); ok {
			return p
		}
		return nil
	}
	text, _ := responseText(d)
	return &statusError{Endpoint: endpoint, Status: status, Text: text}
}

// penaltyOf recognises a p-ticket penalty object in a response payload.
func penaltyOf(d []byte) (*penaltyError, bool) {
	body := responseBody(d)
	if len(body) == 0 || body[0] != '{' {
		return nil, false
	}
	var p struct {
		Ticket  string  `json:"p-ticket"`
		Time    float64 `json:"p-time"`
		Captcha bool    `json:"p-captcha"`
	}
	if json.Unmarshal(body, &p) != nil || p.Ticket == "" {
		return nil, false
	}
	return &penaltyError{Status: 200, Wait: time.Duration(p.Time * float64(time.Second)), Ticket: p.Ticket}, true
}

// do sends a request and waits for it, honouring server penalties: wait
// the announced time (EventPenalty), then resend (with the p-ticket in the
// JSON body when there is one).
func (c *conn) do(ctx context.Context, endpoint, query string, body []byte, onOK func()) (*call, error) {
	for attempt := 0; ; attempt++ {
		cl, err := c.send(ctx, endpoint, query, body, onOK)
		if err != nil {
			return nil, err
		}
		err = c.wait(ctx, cl)
		var pe *penaltyError
		if !errors.As(err, &pe) {
			return cl, err
		}
		if attempt >= maxPenalties {
			return nil, err
		}
		c.s.log.Warn().Int64("conn", c.id).Str("endpoint", endpoint).Int("status", pe.Status).Dur("wait", pe.Wait).Msg("server penalty on request")
		c.s.emitEvent(Event{Kind: EventPenalty, Time: time.Now(), ConnID: c.id, Reason: pe.reason(), Detail: map[string]any{
			"endpoint": endpoint, "status": pe.Status, "seconds": pe.Wait.Seconds()}})
		if err := c.sleep(ctx, pe.Wait); err != nil {
			return nil, err
		}
		if pe.Ticket != "" {
			body = withTicket(body, pe.Ticket)
		}
	}
}

// sleep waits d unless ctx ends or the connection fails.
func (c *conn) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return context.Cause(c.ctx)
	}
}

// withTicket adds "p-ticket" to a JSON object body.
func withTicket(body []byte, ticket string) []byte {
	m := map[string]any{}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &m); err != nil {
			return body
		}
	}
	m["p-ticket"] = ticket
	out, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return out
}
