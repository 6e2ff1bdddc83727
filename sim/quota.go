package sim

// enforceQuota applies the per-user quotas after c authorized: while the
// user has more than Rules.MaxConnsPerUser authorized sockets, or sockets
// from more than Rules.MaxIPsPerUser addresses, the oldest gets a shutdown
// event (ConnectionQuotaReached or IPQuotaReached) and is closed, and its
// token is revoked unless c authorized with the same session.
func (s *Server) enforceQuota(c *conn) {
	maxConns, maxIPs := s.cfg.Rules.MaxConnsPerUser, s.cfg.Rules.MaxIPsPerUser
	if maxConns <= 0 && maxIPs <= 0 {
		return
	}
	c.mu.Lock()
	user, csess := c.sess.user, c.sess
	c.mu.Unlock()
	var mine []*conn // oldest first
	for _, o := range s.connList() {
		o.mu.Lock()
		if o.sess != nil && o.sess.user == user && !o.quotaHit {
			mine = append(mine, o)
		}
		o.mu.Unlock()
	}
	for len(mine) > 1 {
		reason := ""
		switch {
		case maxConns > 0 && len(mine) > maxConns:
			reason = ShutdownConnectionQuotaReached
		case maxIPs > 0 && distinctIPs(mine) > maxIPs:
			reason = ShutdownIPQuotaReached
		default:
			return
		}
		o := mine[0]
		mine = mine[1:]
		o.mu.Lock()
		o.quotaHit = true
		sess := o.sess
		o.mu.Unlock()
		if sess != csess {
			s.auth.revoke(sess)
		}
		o.log.Info().Str("reason", reason).Msg("quota reached: closing the oldest connection")
		o.shutdown(reason, "")
	}
}

// distinctIPs counts the client addresses of cs.
func distinctIPs(cs []*conn) int {
	seen := make(map[string]struct{}, len(cs))
	for _, c := range cs {
		seen[c.ip] = struct{}{}
	}
	return len(seen)
}
