package sim

import (
	"testing"
	"time"
)

// FuzzHandle feeds arbitrary client frames to the request handler of an
// authorized connection: it must answer or ask for a cut, never panic.
func FuzzHandle(f *testing.F) {
	for _, seed := range []string{
		"[]", "authorize\n0\n\ntok", "md/subscribeQuote\n2\n\n{\"symbol\":\"ESZ6\"}",
		"md/subscribeDOM\n3\n\n{\"symbol\":3570918}", "md/unsubscribeQuote\n4\n\n{\"symbol\":[1,2]}",
		"contract/find\n5\nname=%zz\n", "contract/item\n6\nid=-1", "x\n9223372036854775807\n\n{",
		"md/subscribeQuote\n7\n\n{\"symbol\":\"ESZ6\",\"p-ticket\":5}", "\n\n\n", "a\n1\nb\nc\nd",
	} {
		f.Add([]byte(seed))
	}
	s, err := newServer(testConfig())
	if err != nil {
		f.Fatal(err)
	}
	defer s.cancel()
	sess := &session{id: 1, user: &s.cfg.Users[0], expires: time.Now().Add(time.Hour)}
	f.Fuzz(func(t *testing.T, frame []byte) {
		c := &conn{s: s, id: 1, created: time.Now(), done: make(chan struct{}), wake: make(chan struct{}, 1),
			subs: map[int64]uint8{}, seen: map[int64]struct{}{}, sess: sess}
		for i := 0; i < 2; i++ { // the second time, a reused id must ask for a cut
			cause := c.handle(frame, time.Now())
			if i == 1 && cause == "" {
				if r, ok := parseRequest(frame); ok && r.endpoint != "" {
					t.Fatalf("reused id %d not cut", r.id)
				}
			}
		}
	})
}
