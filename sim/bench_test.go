package sim

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// BenchmarkStepEncode measures the data generator: one step (a quote and
// a 10-level DOM) and their encoding.
func BenchmarkStepEncode(b *testing.B) {
	k := newContract(DefaultContracts()[0], 10, 1, 0)
	now := time.Now()
	var bytes int
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		q, d := k.step(now, 10)
		q.json = appendUpdate(nil, q)
		d.json = appendUpdate(nil, d)
		bytes += len(q.json) + len(d.json)
	}
	b.ReportMetric(float64(bytes)/float64(b.N)/2, "bytes/update")
}

// BenchmarkStream measures what one client reading as fast as it can
// receives from a contract generating 20,000 steps per second (quote and
// DOM subscribed): updates per second delivered, and conflated ones.
func BenchmarkStream(b *testing.B) {
	cfg := testConfig()
	cfg.Contracts = DefaultContracts()[:1]
	cfg.Rate = 20000
	cfg.UpdatesPerFrame = 64
	cfg.Rules.ClientTimeout = 0 // the benchmark client sends no heartbeats
	s, err := Start(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	t := &testing.T{}
	ws, resp, err := websocket.DefaultDialer.Dial(s.WSURL(), nil)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	defer ws.Close()
	c := &client{t: t, ws: ws, closeGot: make(chan int, 1)}
	c.read() // o
	tok := token(t, s)
	c.send("authorize\n1\n\n" + tok)
	c.send("md/subscribeQuote\n2\n\n{\"symbol\":\"ESZ6\"}")
	c.send("md/subscribeDOM\n3\n\n{\"symbol\":\"ESZ6\"}")
	_ = ws.SetReadDeadline(time.Time{}) // c.read set one
	start := time.Now()
	before := s.Stats()
	b.ResetTimer()
	var n, frames, bytes int
	for n < b.N {
		_, f, err := ws.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		frames++
		bytes += len(f)
		if len(f) > 0 && f[0] == 'a' {
			_, objs := mdObjects(t, string(f))
			n += len(objs)
		}
	}
	b.StopTimer()
	el := time.Since(start).Seconds()
	after := s.Stats()
	b.ReportMetric(float64(n)/el, "updates/s")
	b.ReportMetric(float64(n)/float64(frames), "updates/frame")
	b.ReportMetric(float64(bytes)/float64(n), "bytes/update")
	b.ReportMetric(float64(after.Conflated-before.Conflated)/el, "conflated/s")
}
