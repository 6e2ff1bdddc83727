package feed

import (
	"net/http"
	"testing"
	"time"
)

func TestGrantLifetimeIsSkewSafe(t *testing.T) {
	serverNow := time.Now().Add(time.Hour) // the local clock is an hour behind
	tr := tokenResponse{AccessToken: "a", ExpirationTime: serverNow.Add(80 * time.Minute).UTC().Format(time.RFC3339Nano)}
	h := http.Header{}
	h.Set("Date", serverNow.UTC().Format(http.TimeFormat))
	g := grantFrom(tr, h)
	if d := g.lifetime - 80*time.Minute; d < -2*time.Second || d > 2*time.Second {
		t.Fatalf("lifetime %s, want 80m", g.lifetime)
	}
	if at := time.Until(g.renewAt(15 * time.Minute)); at < 64*time.Minute || at > 66*time.Minute {
		t.Fatalf("renewal in %s, want 65m", at)
	}
	if g.mdToken() != "a" {
		t.Fatal("md token must fall back to the access token")
	}
	// Without a Date header the local clock is used.
	g = grantFrom(tokenResponse{AccessToken: "a", MDAccessToken: "m", ExpirationTime: time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano)}, http.Header{})
	if g.lifetime > time.Minute || g.lifetime < 59*time.Second || g.mdToken() != "m" {
		t.Fatalf("grant %+v", g)
	}
	// A short lifetime renews at half of it, never in the past.
	if at := time.Until(g.renewAt(15 * time.Minute)); at < 29*time.Second || at > 31*time.Second {
		t.Fatalf("renewal in %s", at)
	}
}

func TestBackoffFullJitterCapped(t *testing.T) {
	b := newBackoff(10*time.Millisecond, 80*time.Millisecond)
	for i := 0; i < 50; i++ {
		if d := b.next(); d < 0 || d > 80*time.Millisecond {
			t.Fatalf("delay %s", d)
		}
	}
	b.reset()
	if d := b.next(); d > 10*time.Millisecond {
		t.Fatalf("delay after reset %s", d)
	}
}
