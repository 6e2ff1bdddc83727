package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// contractInfo is the part of a contract/find answer mdcap needs.
type contractInfo struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	ErrorText string `json:"errorText"`
}

// errNoREST says the REST lookup could not be made (no AuthURL, transport
// failure, server error): the socket is asked instead.
var errNoREST = errors.New("contract lookup over REST unavailable")

// resolveREST maps every symbol to its contract id with
// GET {AuthURL}/contract/find?name=SYM. An unknown symbol is a permanent
// error naming it; symbols REST could not answer are left for the socket.
func (s *Session) resolveREST(ctx context.Context) error {
	for _, sym := range s.syms {
		if sym.contractID != 0 {
			continue
		}
		id, err := s.findContractREST(ctx, sym.name)
		if errors.Is(err, errNoREST) {
			s.log.Info().Err(err).Str("symbol", sym.name).Msg("contract lookup falls back to the socket")
			continue
		}
		if err != nil {
			return err
		}
		s.setContract(sym, id)
	}
	return nil
}

func (s *Session) findContractREST(ctx context.Context, name string) (int64, error) {
	if s.cfg.AuthURL == "" {
		return 0, errNoREST
	}
	u := joinURL(s.cfg.AuthURL, "contract/find") + "?name=" + url.QueryEscape(name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, fmt.Errorf("build contract/find request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.token().access.Reveal())
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if perr := untrustedCert("contract/find", err); perr != nil {
			return 0, perr
		}
		return 0, fmt.Errorf("%w: %v", errNoREST, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, fmt.Errorf("%w: read: %v", errNoREST, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return 0, permanent("unknown symbol %q: contract/find answered HTTP 404", name)
	case resp.StatusCode != http.StatusOK:
		return 0, fmt.Errorf("%w: HTTP %d", errNoREST, resp.StatusCode)
	}
	return contractID(name, data)
}

// contractID reads a contract/find answer; null, {} or errorText mean
// the symbol is unknown.
func contractID(name string, data []byte) (int64, error) {
	var ci *contractInfo
	if err := json.Unmarshal(responseBody(data), &ci); err != nil {
		return 0, fmt.Errorf("decode contract/find answer for %q: %w", name, err)
	}
	if ci == nil || ci.ID == 0 {
		text := ""
		if ci != nil && ci.ErrorText != "" {
			text = ": " + ci.ErrorText
		}
		return 0, permanent("unknown symbol %q: contract/find found no contract%s", name, text)
	}
	return ci.ID, nil
}

// resolveSocket asks the socket (contract/find, query name=SYM) for every
// symbol REST left unresolved.
func (s *Session) resolveSocket(ctx context.Context, c *conn) error {
	for _, sym := range s.syms {
		s.emitMu.Lock()
		known := sym.contractID != 0
		s.emitMu.Unlock()
		if known {
			continue
		}
		cl, err := c.do(ctx, "contract/find", "name="+url.QueryEscape(sym.name), nil, nil)
		var se *statusError
		if errors.As(err, &se) && (se.Status == 404 || se.Status == 400) {
			return permanent("unknown symbol %q: contract/find answered %d %s", sym.name, se.Status, se.Text)
		}
		if err != nil {
			return fmt.Errorf("resolve %s on the socket: %w", sym.name, err)
		}
		id, err := contractID(sym.name, cl.d)
		if err != nil {
			return err
		}
		s.setContract(sym, id)
	}
	return nil
}

func (s *Session) setContract(sym *symbol, id int64) {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	sym.contractID = id
	s.byContract[id] = sym
	s.log.Info().Str("symbol", sym.name).Int64("contract_id", id).Msg("symbol resolved")
}
