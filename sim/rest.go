package sim

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// routes registers the REST endpoints and the WebSocket under /v1.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/websocket", s.serveWS)
	mux.HandleFunc("/v1/auth/accesstokenrequest", s.serveTokenRequest)
	mux.HandleFunc("/v1/auth/renewaccesstoken", s.serveRenew)
	mux.HandleFunc("/v1/contract/find", s.serveContractFind)
	mux.HandleFunc("/v1/contract/item", s.serveContractItem)
	mux.HandleFunc("/v1/contract/suggest", s.serveContractSuggest)
	mux.HandleFunc("/v1/product/find", s.serveProductFind)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		// The real host answers its root with a plain 200, not an upgrade.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "mdcap sim: WebSocket at /v1/websocket\n")
	})
	return s.track(mux)
}

// track counts every handler in the server's WaitGroup so that Close waits
// for it; requests arriving after Close get 503.
func (s *Server) track(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.enter() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		defer s.wg.Done()
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// cidString accepts cid as a JSON number or string.
func cidString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

func (s *Server) serveTokenRequest(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"errorText": "POST required"})
		return
	}
	var body struct {
		Name       string          `json:"name"`
		Password   string          `json:"password"`
		AppID      string          `json:"appId"`
		AppVersion string          `json:"appVersion"`
		CID        json.RawMessage `json:"cid"`
		Sec        string          `json:"sec"`
		DeviceID   string          `json:"deviceId"`
		PTicket    string          `json:"p-ticket"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"errorText": "Bad request body"})
		return
	}
	now := time.Now()
	res := s.auth.request(tokenRequest{
		Name: body.Name, Password: body.Password, AppID: body.AppID,
		CID: cidString(body.CID), Sec: body.Sec, PTicket: body.PTicket,
	}, now)
	switch {
	case res.ticket != "":
		s.log.Info().Str("user", body.Name).Dur("wait", res.wait).Msg("access token request penalised")
		out := map[string]any{"p-ticket": res.ticket, "p-time": int64((res.wait + time.Second - 1) / time.Second)}
		if res.captcha {
			out["p-captcha"] = true
		}
		writeJSON(w, http.StatusOK, out)
	case res.errorText != "":
		s.log.Info().Str("user", body.Name).Msg("access token request refused")
		writeJSON(w, http.StatusOK, map[string]string{"errorText": res.errorText})
	default:
		writeJSON(w, http.StatusOK, tokenBody(res.access, res.md, res.sess.user, s.auth.expiresAt(res.sess)))
	}
}

func tokenBody(access, md string, u *User, exp time.Time) map[string]any {
	out := map[string]any{
		"accessToken":            access,
		"expirationTime":         exp.UTC().Format(tsLayout),
		"passwordExpirationTime": exp.AddDate(1, 0, 0).UTC().Format(tsLayout),
		"userStatus":             "Active",
		"userId":                 u.ID,
		"name":                   u.Name,
		"hasLive":                false,
		"hasMarketData":          true,
	}
	if md != "" {
		out["mdAccessToken"] = md
	}
	return out
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func (s *Server) serveRenew(w http.ResponseWriter, r *http.Request) {
	tok, sess, ok := s.auth.renew(bearer(r), time.Now())
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"errorText": "Access is denied"})
		return
	}
	writeJSON(w, http.StatusOK, tokenBody(tok, "", sess.user, s.auth.expiresAt(sess)))
}

// authorized checks the Bearer token of a REST request.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if _, ok := s.auth.valid(bearer(r), time.Now()); !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"errorText": "Access is denied"})
		return false
	}
	return true
}

// contractJSON is the body of contract/find and contract/item.
func contractJSON(k *contract) map[string]any {
	return map[string]any{
		"id":                 k.ID,
		"name":               k.Name,
		"contractMaturityId": 50000 + k.ID%10000,
		"status":             "DefinitionChecked",
		"providerTickSize":   k.TickSize,
	}
}

func (s *Server) serveContractFind(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	name := r.URL.Query().Get("name")
	k := s.byName[strings.ToUpper(name)]
	if k == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"errorText": "Contract not found: " + name})
		return
	}
	writeJSON(w, http.StatusOK, contractJSON(k))
}

func (s *Server) serveContractItem(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	id, err := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
	k := s.byID[id]
	if err != nil || k == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"errorText": "Contract not found: " + r.URL.Query().Get("id")})
		return
	}
	writeJSON(w, http.StatusOK, contractJSON(k))
}

// serveContractSuggest answers contract/suggest?t=PREFIX&l=LIMIT with the
// contracts whose name starts with PREFIX.
func (s *Server) serveContractSuggest(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	q := r.URL.Query()
	prefix := strings.ToUpper(q.Get("t"))
	limit, err := strconv.Atoi(q.Get("l"))
	if err != nil || limit <= 0 {
		limit = 10
	}
	out := []map[string]any{}
	for _, k := range s.contracts {
		if len(out) < limit && strings.HasPrefix(strings.ToUpper(k.Name), prefix) {
			out = append(out, contractJSON(k))
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// productName is a contract's product: its name without the month code
// and year digit (ESZ6 → ES).
func productName(name string) string {
	if len(name) > 2 {
		return name[:len(name)-2]
	}
	return name
}

// serveProductFind answers product/find?name=ES with the tick size and
// value per point of the first contract of that product.
func (s *Server) serveProductFind(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	name := r.URL.Query().Get("name")
	for _, k := range s.contracts {
		if strings.EqualFold(productName(k.Name), name) {
			writeJSON(w, http.StatusOK, map[string]any{
				"id": 1000 + k.ID%1000, "name": productName(k.Name), "status": "Verified",
				"tickSize": k.TickSize, "valuePerPoint": k.ValuePerPoint,
			})
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"errorText": "Product not found: " + name})
}
