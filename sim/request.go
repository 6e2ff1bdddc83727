package sim

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// request is one parsed client request: endpoint\nid\nquery\nbody.
type request struct {
	endpoint string // as sent
	id       int64
	query    string
	body     []byte
}

// parseRequest splits a client frame into its four fields. A frame with
// no id line or a non-integer id is not a request.
func parseRequest(data []byte) (request, bool) {
	parts := bytes.SplitN(data, []byte{'\n'}, 4)
	if len(parts) < 2 {
		return request{}, false
	}
	id, err := strconv.ParseInt(string(bytes.TrimSpace(parts[1])), 10, 64)
	if err != nil {
		return request{}, false
	}
	r := request{endpoint: strings.TrimSpace(string(parts[0])), id: id}
	if len(parts) > 2 {
		r.query = string(bytes.TrimSpace(parts[2]))
	}
	if len(parts) > 3 {
		r.body = bytes.TrimSpace(parts[3])
	}
	return r, r.endpoint != ""
}

// response builds {"s":status,"i":id[,"d":d]}; d is raw JSON.
func response(id int64, status int, d []byte) []byte {
	b := make([]byte, 0, 32+len(d))
	b = append(b, `{"s":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"i":`...)
	b = strconv.AppendInt(b, id, 10)
	if d != nil {
		b = append(b, `,"d":`...)
		b = append(b, d...)
	}
	return append(b, '}')
}

// errorResponse builds a response whose d is the string text.
func errorResponse(id int64, status int, text string) []byte {
	return response(id, status, appendString(nil, text))
}

// handle processes one client frame received at now. It returns a cause
// when the connection must be cut.
func (c *conn) handle(data []byte, now time.Time) string {
	if t := bytes.TrimSpace(data); len(t) == 2 && t[0] == '[' && t[1] == ']' {
		return "" // client heartbeat
	}
	r, ok := parseRequest(data)
	if !ok {
		return EndBadRequest // not even a request line and an id
	}
	if c.s.cfg.Rules.CutDuplicateID {
		if _, dup := c.seen[r.id]; dup {
			return EndDuplicateID
		}
		c.seen[r.id] = struct{}{}
	}
	cut, locked := c.countRequest(now)
	if cut != "" {
		return cut
	}
	if locked {
		c.send(response(r.id, 429, nil))
		return ""
	}
	ep := strings.ToLower(r.endpoint)
	if ep == "authorize" {
		c.authorize(r, now)
		return ""
	}
	c.mu.Lock()
	authorized := c.sess != nil
	c.mu.Unlock()
	if !authorized {
		c.send(errorResponse(r.id, 401, "Access is denied"))
		return ""
	}
	switch ep {
	case "md/subscribequote":
		c.subscribe(r, subQuote, true)
	case "md/unsubscribequote":
		c.subscribe(r, subQuote, false)
	case "md/subscribedom":
		c.subscribe(r, subDOM, true)
	case "md/unsubscribedom":
		c.subscribe(r, subDOM, false)
	case "contract/find":
		q, _ := url.ParseQuery(r.query)
		c.contractAnswer(r.id, c.s.byName[strings.ToUpper(q.Get("name"))], q.Get("name"))
	case "contract/item":
		q, _ := url.ParseQuery(r.query)
		id, _ := strconv.ParseInt(q.Get("id"), 10, 64)
		c.contractAnswer(r.id, c.s.byID[id], q.Get("id"))
	default:
		c.send(errorResponse(r.id, 404, strconv.Quote("Not found: "+r.endpoint)))
	}
	return ""
}

func (c *conn) contractAnswer(id int64, k *contract, asked string) {
	if k == nil {
		c.send(errorResponse(id, 404, "Contract not found: "+asked))
		return
	}
	d, _ := json.Marshal(contractJSON(k))
	c.send(response(id, 200, d))
}

// authorize checks the raw token of an authorize request.
func (c *conn) authorize(r request, now time.Time) {
	tok := string(r.body)
	sess, ok := c.s.auth.valid(tok, now)
	if !ok { // includes a JSON-quoted token: quotes are not part of any token
		c.send(errorResponse(r.id, 401, "Invalid access token"))
		return
	}
	c.mu.Lock()
	c.sess, c.silent = sess, false
	c.ctrl = append(c.ctrl, outItem{msg: response(r.id, 200, nil)})
	c.mu.Unlock()
	c.signal()
	c.s.enforceQuota(c)
}

// symbolOf resolves the "symbol" of an md request body (a name or an id).
func (c *conn) symbolOf(body []byte) (*contract, string) {
	if len(body) == 0 {
		return nil, "No usable value for symbol"
	}
	var req struct {
		Symbol json.RawMessage `json:"symbol"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Symbol) == 0 {
		return nil, "No usable value for symbol"
	}
	var name string
	if json.Unmarshal(req.Symbol, &name) == nil {
		if k := c.s.byName[strings.ToUpper(name)]; k != nil {
			return k, ""
		}
		return nil, "Unknown symbol: " + name
	}
	var id int64
	if json.Unmarshal(req.Symbol, &id) == nil {
		if k := c.s.byID[id]; k != nil {
			return k, ""
		}
		return nil, "Unknown contract id: " + strconv.FormatInt(id, 10)
	}
	return nil, "No usable value for symbol"
}

// subscribe handles md/(un)subscribeQuote|DOM. The response is queued
// before the subscription takes effect, so it precedes the first data.
func (c *conn) subscribe(r request, bit uint8, on bool) {
	if on {
		var p struct {
			Ticket string `json:"p-ticket"`
		}
		_ = json.Unmarshal(r.body, &p) // a bad body is reported by symbolOf
		if d := c.s.wsPen.check(p.Ticket, time.Now()); d != nil {
			c.send(response(r.id, 200, d))
			return
		}
	}
	k, problem := c.symbolOf(r.body)
	if k == nil {
		status := 400
		if strings.HasPrefix(problem, "Unknown") {
			status = 404
		}
		c.send(errorResponse(r.id, status, problem))
		return
	}
	c.mu.Lock()
	c.ctrl = append(c.ctrl, outItem{msg: response(r.id, 200, nil)})
	if on {
		c.subs[k.ID] |= bit
		c.blastReady = c.s.blast != nil && c.subscribedToAll()
	} else {
		c.subs[k.ID] &^= bit
		kept := c.md[:0]
		for _, u := range c.md {
			if u.c != k || 1<<u.kind != bit {
				kept = append(kept, u)
			}
		}
		clear(c.md[len(kept):])
		c.md = kept
	}
	c.mu.Unlock()
	c.signal()
}

// subscribedToAll reports whether the connection has subscribed to the
// quotes and the DOM of every contract. Call with c.mu held.
func (c *conn) subscribedToAll() bool {
	for _, k := range c.s.contracts {
		if c.subs[k.ID] != subQuote|subDOM {
			return false
		}
	}
	return true
}
