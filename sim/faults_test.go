package sim

import (
	"strings"
	"testing"
	"time"
)

// subscribed dials, authorizes and subscribes to ESZ6 quotes, and waits
// for the first data.
func subscribed(t *testing.T, s *Server) *client {
	t.Helper()
	c := dial(t, s)
	c.authorize(s, 1)
	c.send("md/subscribeQuote\n2\n\n{\"symbol\":\"ESZ6\"}")
	c.response(2)
	for {
		f := c.read()
		if strings.HasPrefix(f, `a[{"e":"md"`) {
			return c
		}
	}
}

func TestDropAllCutsWithoutCloseFrame(t *testing.T) {
	s, gt := startSim(t, nil)
	c1, c2 := subscribed(t, s), subscribed(t, s)
	s.DropAll()
	for _, c := range []*client{c1, c2} {
		if cut, frames := c.expectCut(2 * time.Second); !cut {
			t.Fatalf("got a close frame, want a TCP cut (frames %q)", frames)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readGT(t, gt)
	for _, id := range []int64{1, 2} {
		if end := endOf(lines, id); end != "drop" {
			t.Fatalf("conn %d end %q, want drop", id, end)
		}
	}
}
