package feed

import (
	"context"
	"errors"
	"time"
)

// One token serves every connection of the session, so a recorder never
// opens more than one token session on the server. The renewal goroutine
// replaces it before it expires; connections read the current one when
// they authorize.

// token returns the current grant.
func (s *Session) token() tokenGrant {
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	return s.tok
}

func (s *Session) setToken(g tokenGrant, how string) {
	s.tokMu.Lock()
	s.tok = g
	s.tokMu.Unlock()
	d := map[string]any{"how": how}
	if exp := g.expiry(); !exp.IsZero() {
		d["expires"] = exp.UTC().Format(time.RFC3339Nano)
	}
	s.log.Info().Str("how", how).Time("expires", g.expiry()).Msg("access token ready")
	s.emitEvent(Event{Kind: EventToken, Time: time.Now(), Detail: d})
}

// TokenExpiry is the local-clock estimate of when the current token
// expires (zero when unknown, e.g. a given --access-token).
func (s *Session) TokenExpiry() time.Time { return s.token().expiry() }

// acquireToken obtains the first token: the configured one, or a new one
// from the credentials. Transport failures are retried with backoff;
// permanent errors are returned.
func (s *Session) acquireToken(ctx context.Context) error {
	if s.cfg.AccessToken != "" {
		s.setToken(tokenGrant{access: s.cfg.AccessToken, arrived: time.Now()}, "configured")
		return nil
	}
	bo := newBackoff(s.cfg.BackoffMin, s.cfg.BackoffMax)
	for {
		g, err := s.requestToken(ctx)
		if err == nil {
			s.setToken(g, "requested")
			return nil
		}
		if errors.Is(err, ErrPermanent) || ctx.Err() != nil {
			return err
		}
		wait := bo.next()
		s.log.Warn().Err(err).Dur("retry_in", wait).Msg("access token request failed")
		if err := sleepCtx(ctx, wait); err != nil {
			return err
		}
	}
}

// refreshToken replaces a token the server rejected (authorize 401): renew
// it, else request a new one. It does nothing when the token was already
// replaced since rejected was handed out.
func (s *Session) refreshToken(ctx context.Context, rejected Secret) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	cur := s.token()
	if cur.mdToken() != rejected {
		return nil
	}
	if s.cfg.AuthURL != "" {
		g, err := s.renewToken(ctx, cur)
		if err == nil {
			s.setToken(g, "renewed")
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.log.Warn().Err(err).Msg("renewing a rejected token failed")
	}
	if s.cfg.Credentials.empty() {
		return permanent("the access token was rejected and no credentials are configured to request a new one")
	}
	g, err := s.requestToken(ctx)
	if err != nil {
		return err
	}
	s.setToken(g, "requested")
	return nil
}

// renewLoop renews the token before it expires, for as long as ctx lives.
// Failures are retried with backoff; once a renewal is refused, a new
// token is requested when credentials are configured.
func (s *Session) renewLoop(ctx context.Context) {
	if s.cfg.AuthURL == "" {
		return
	}
	bo := newBackoff(s.cfg.BackoffMin, s.cfg.BackoffMax)
	for {
		cur := s.token()
		if !cur.known {
			return // a given token of unknown lifetime: renewed only if rejected
		}
		if err := sleepCtx(ctx, time.Until(cur.renewAt(s.cfg.RenewBefore))); err != nil {
			return
		}
		s.refreshMu.Lock()
		g, err := s.renewToken(ctx, cur)
		if errors.Is(err, errTokenRejected) {
			s.log.Warn().Msg("the server refused to renew the token: reconnecting with a new one")
			select {
			case s.tokenLost <- cur.mdToken():
			default:
			}
			if !s.cfg.Credentials.empty() {
				g, err = s.requestToken(ctx)
			}
		}
		if err == nil {
			s.setToken(g, "renewed")
			bo.reset()
		}
		s.refreshMu.Unlock()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			wait := bo.next()
			s.log.Warn().Err(err).Dur("retry_in", wait).Msg("token renewal failed")
			if sleepCtx(ctx, wait) != nil {
				return
			}
		}
	}
}
