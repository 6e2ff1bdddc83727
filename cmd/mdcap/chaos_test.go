package main

// Chaos scenarios: a real fault-injection proxy (toxiproxy, in process)
// between the recorder's WebSocket and the simulator, driven by a seed.
// Each scenario ends by comparing the dataset with the simulator's ground
// truth: every update recorded exactly once or sent inside a recorded gap
// of its symbol. The default run is short; MDCAP_CHAOS=long runs each
// scenario ten times longer and the random one for many more steps, and
// MDCAP_CHAOS_SEED=N replays a seed.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/mdcap/mdcap/capture/capturetest"
	"github.com/mdcap/mdcap/feed"
	"github.com/mdcap/mdcap/schema"
	"github.com/mdcap/mdcap/sim"
)

// chaosProxy is an in-process toxiproxy in front of one upstream address.
type chaosProxy struct {
	p *toxiproxy.Proxy
}

func newChaosProxy(t *testing.T, upstream string) *chaosProxy {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "md", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("start proxy: %v", err)
	}
	t.Cleanup(p.Stop)
	return &chaosProxy{p: p}
}

// add installs a toxic on one stream (downstream: server to recorder) and
// returns its name.
func (c *chaosProxy) add(t *testing.T, typ, stream string, attrs map[string]any) string {
	t.Helper()
	name := fmt.Sprintf("%s_%s_%d", typ, stream, time.Now().UnixNano())
	b, err := json.Marshal(map[string]any{"name": name, "type": typ, "stream": stream, "attributes": attrs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.p.Toxics.AddToxicJson(strings.NewReader(string(b))); err != nil {
		t.Fatalf("add toxic %s: %v", b, err)
	}
	t.Logf("%s toxic %s %s %v", time.Now().UTC().Format("15:04:05.000"), typ, stream, attrs)
	return name
}

func (c *chaosProxy) remove(t *testing.T, name string) {
	t.Helper()
	t.Logf("%s remove %s", time.Now().UTC().Format("15:04:05.000"), name)
	if err := c.p.Toxics.RemoveToxic(context.Background(), name); err != nil {
		t.Fatalf("remove toxic %s: %v", name, err)
	}
}

func (c *chaosProxy) reset() { c.p.Toxics.ResetToxics(context.Background()) }

// chaosLong reports whether the long mode is on (MDCAP_CHAOS=long).
func chaosLong() bool { return os.Getenv("MDCAP_CHAOS") == "long" }

// chaosSeed is MDCAP_CHAOS_SEED, or def (the long mode draws one).
func chaosSeed(t *testing.T, def uint64) uint64 {
	t.Helper()
	if s := os.Getenv("MDCAP_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MDCAP_CHAOS_SEED: %v", err)
		}
		return v
	}
	if chaosLong() {
		return uint64(time.Now().UnixNano())
	}
	return def
}

// feedTap remembers the (server timestamp, contract) of every update the
// feed delivered, so that a missing update can be placed: lost before the
// recorder read it (network, proxy) or after (pipeline, storage).
type feedTap struct {
	h    feed.Handler
	mu   sync.Mutex
	seen map[string]bool // "quotes|dom/<ts>/<contract>"
}

func (f *feedTap) HandleBatch(b *feed.Batch) {
	f.mu.Lock()
	for _, q := range b.Quotes {
		f.seen[fmt.Sprintf("quotes/%d/%d", q.Timestamp, q.ContractID)] = true
	}
	for _, d := range b.DOMs {
		f.seen[fmt.Sprintf("dom/%d/%d", d.Timestamp, d.ContractID)] = true
	}
	f.mu.Unlock()
	f.h.HandleBatch(b)
}

func (f *feedTap) HandleEvent(e feed.Event) { f.h.HandleEvent(e) }

// delivered reports whether the feed delivered an update of table whose
// truth key starts with "<ts>/<contract>/".
func (f *feedTap) delivered(table, key string) bool {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) < 2 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen[table+"/"+parts[0]+"/"+parts[1]]
}

// chaosRun is a recorder, a simulator and a proxy between them.
type chaosRun struct {
	e     *e2e
	px    *chaosProxy
	tap   *feedTap
	rng   *rand.Rand
	seed  uint64
	scale time.Duration // 1 by default, 10 in the long mode
}

func startChaos(t *testing.T, seed uint64, simTune func(*sim.Config)) *chaosRun {
	t.Helper()
	c := &chaosRun{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), seed: seed, scale: 1}
	if chaosLong() {
		c.scale = 10
	}
	c.e = startE2E(t, func(s *sim.Config) {
		s.Seed = int64(seed)
		if simTune != nil {
			simTune(s)
		}
	}, func(cfg *recordConfig) {
		u, err := url.Parse(cfg.MDURL)
		if err != nil {
			t.Fatal(err)
		}
		c.px = newChaosProxy(t, u.Host)
		u.Host = c.px.p.Listen
		cfg.MDURL = u.String()
		cfg.StaleAfter = time.Second
		c.tap = &feedTap{seen: map[string]bool{}}
		watch := cfg.hooks.handler
		cfg.hooks.handler = func(h feed.Handler) feed.Handler { c.tap.h = watch(h); return c.tap }
	})
	c.e.w.awaitFlowing(t, 0, 3)
	return c
}

// hold keeps a fault in place for d (times the long mode's scale).
func (c *chaosRun) hold(d time.Duration) { time.Sleep(d * c.scale) }

// conn is the latest connection the feed reported up.
func (c *chaosRun) conn() int64 {
	c.e.w.mu.Lock()
	defer c.e.w.mu.Unlock()
	return c.e.w.conn
}

// awaitMore waits until the latest connection has both symbols subscribed
// and has delivered n more batches of each contract than it had when called.
func (c *chaosRun) awaitMore(t *testing.T, n int) {
	t.Helper()
	w := c.e.w
	w.mu.Lock()
	conn0 := w.conn
	base := map[int64]int{}
	for k, v := range w.data[conn0] {
		base[k] = v
	}
	w.mu.Unlock()
	w.await(t, "more data", func() bool {
		conn := w.conn
		if len(w.subs[conn]) < 2 || len(w.data[conn]) < 2 {
			return false
		}
		for k, v := range w.data[conn] {
			if conn == conn0 && v-base[k] < n || v < n {
				return false
			}
		}
		return true
	})
}

// finish removes every toxic, waits for data to flow, stops the recorder
// and the simulator, compares the dataset with the ground truth, logs the
// figures in one line and fails on anything the contract does not allow.
func (c *chaosRun) finish(t *testing.T, name string) capturetest.Tally {
	t.Helper()
	c.px.reset()
	c.awaitMore(t, 3)
	e := c.e
	e.cancel()
	if err := <-e.done; err != nil {
		t.Fatalf("record returned %v", err)
	}
	e.done <- nil // for the cleanup
	st := e.srv.Stats()
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := capturetest.Read(e.cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := capturetest.ReadTruth(strings.NewReader(e.truth.String()))
	if err != nil {
		t.Fatal(err)
	}
	tally := capturetest.TallyInFlight(d, tr, 100*time.Millisecond)
	gaps := 0
	for sym := range d.Events {
		gaps += len(d.Kind(sym, schema.KindGap))
	}
	t.Logf("chaos %s seed %d: %s; conflated by the server %d, connections %d, gap rows %d",
		name, c.seed, tally, st.Conflated, c.conn(), gaps)
	for _, p := range tally.Problems {
		t.Error(p)
	}
	if tally.Missing > 0 {
		// Where were they lost? Before the feed read them, or after?
		byFeed := 0
		for _, u := range tally.Lost {
			if c.tap.delivered(u.Table, u.Key) {
				byFeed++
			}
		}
		t.Errorf("of %d unexplained missing updates, the feed had delivered %d (lost after the read: pipeline or storage) "+
			"and never read %d (lost before: network, proxy or the feed's reader)", tally.Missing, byFeed, tally.Missing-byFeed)
	}
	if tally.Missing != 0 || tally.Duplicates != 0 || tally.Phantoms != 0 {
		t.Errorf("unexplained missing %d, duplicates %d, phantoms %d", tally.Missing, tally.Duplicates, tally.Phantoms)
	}
	if tally.Sent == 0 || tally.Recorded == 0 {
		t.Errorf("nothing recorded: %s", tally)
	}
	if len(d.TempFiles) != 0 {
		t.Errorf("temporary files left: %v", d.TempFiles)
	}
	if err := d.CheckSeq(); err != nil {
		t.Error(err)
	}
	return tally
}

func TestChaosLatencyJitter(t *testing.T) {
	c := startChaos(t, chaosSeed(t, 1), nil)
	lat := 50 + c.rng.IntN(150)
	c.px.add(t, "latency", "downstream", map[string]any{"latency": lat, "jitter": lat / 2})
	c.px.add(t, "latency", "upstream", map[string]any{"latency": lat / 3, "jitter": lat / 4})
	c.awaitMore(t, 5)
	c.hold(1500 * time.Millisecond)
	tally := c.finish(t, "latency+jitter")
	if tally.MaxDelay < time.Duration(lat)*time.Millisecond {
		t.Errorf("max delay %s below the latency toxic's %dms: was the proxy in the path?", tally.MaxDelay, lat)
	}
}

func TestChaosBandwidth(t *testing.T) {
	// A small send queue and socket buffer, so that the simulator conflates
	// once the throttled link has backed up to it.
	c := startChaos(t, chaosSeed(t, 2), func(s *sim.Config) {
		s.Rate = 200
		s.SendQueue = 16
		s.SocketBuffer = 4096
	})
	n := c.px.add(t, "bandwidth", "downstream", map[string]any{"rate": 8 + c.rng.IntN(8)}) // KB/s
	c.hold(2 * time.Second)
	c.px.remove(t, n)
	c.finish(t, "bandwidth")
	if cf := c.e.srv.Stats().Conflated; cf == 0 {
		t.Errorf("the server never conflated: the throttle did not make the recorder fall behind")
	}
}

func TestChaosTimeoutBlackHole(t *testing.T) {
	c := startChaos(t, chaosSeed(t, 3), nil)
	before := c.conn()
	// timeout 0: data stops and the link stays open, half-open as seen
	// from the recorder until it declares the connection stale.
	n := c.px.add(t, "timeout", "downstream", map[string]any{"timeout": 0})
	c.e.w.await(t, "a drop", func() bool { return c.e.w.conn > before || downsLocked(c.e.w, feed.EventDown) > 0 })
	c.hold(time.Duration(500+c.rng.IntN(1000)) * time.Millisecond)
	c.px.remove(t, n)
	c.e.w.awaitFlowing(t, before, 3)
	tally := c.finish(t, "timeout")
	if tally.Covered == 0 && c.e.w.count(feed.EventDown) == 0 {
		t.Errorf("a black hole made no drop")
	}
}

func TestChaosResetPeer(t *testing.T) {
	c := startChaos(t, chaosSeed(t, 4), nil)
	before := c.conn()
	n := c.px.add(t, "reset_peer", "downstream", map[string]any{"timeout": 100 + c.rng.IntN(400)})
	c.e.w.await(t, "a drop", func() bool { return downsLocked(c.e.w, feed.EventDown) > 0 })
	c.hold(time.Second)
	c.px.remove(t, n)
	c.e.w.awaitFlowing(t, before, 3)
	c.finish(t, "reset_peer")
}

func TestChaosSlicer(t *testing.T) {
	c := startChaos(t, chaosSeed(t, 5), nil)
	before := c.conn()
	c.px.add(t, "slicer", "downstream", map[string]any{"average_size": 4 + c.rng.IntN(12), "size_variation": 3, "delay": 20})
	c.awaitMore(t, 10)
	c.hold(time.Second)
	c.finish(t, "slicer")
	if c.conn() != before {
		t.Logf("note: the connection changed under the slicer (%d → %d)", before, c.conn())
	}
}

func TestChaosSlowClose(t *testing.T) {
	c := startChaos(t, chaosSeed(t, 6), nil)
	c.px.add(t, "slow_close", "downstream", map[string]any{"delay": 200 + c.rng.IntN(600)})
	for range 2 {
		before := c.conn()
		c.e.srv.DropAll()
		c.e.w.awaitFlowing(t, before, 3)
	}
	c.finish(t, "slow_close")
}

// TestChaosRandom applies a seeded random sequence of toxics and
// simulator faults, each for a random while.
func TestChaosRandom(t *testing.T) {
	c := startChaos(t, chaosSeed(t, 7), nil)
	steps := 5
	if chaosLong() {
		steps = 60
	}
	for i := range steps {
		before := c.conn()
		var names []string
		breaks := false
		switch k := c.rng.IntN(7); k {
		case 0:
			lat := 20 + c.rng.IntN(300)
			names = append(names, c.px.add(t, "latency", "downstream", map[string]any{"latency": lat, "jitter": c.rng.IntN(lat)}))
		case 1:
			names = append(names, c.px.add(t, "bandwidth", "downstream", map[string]any{"rate": 4 + c.rng.IntN(60)}))
		case 2:
			names = append(names, c.px.add(t, "timeout", c.stream(), map[string]any{"timeout": c.rng.IntN(1500)}))
			breaks = true
		case 3:
			names = append(names, c.px.add(t, "reset_peer", c.stream(), map[string]any{"timeout": c.rng.IntN(800)}))
			breaks = true
		case 4:
			names = append(names, c.px.add(t, "slicer", c.stream(), map[string]any{"average_size": 1 + c.rng.IntN(64), "size_variation": 1, "delay": c.rng.IntN(200)}))
		case 5:
			names = append(names, c.px.add(t, "slow_close", "downstream", map[string]any{"delay": c.rng.IntN(1000)}))
			c.e.srv.DropAll()
			breaks = true
		case 6:
			t.Logf("%s step %d: simulator stall", time.Now().UTC().Format("15:04:05.000"), i)
			c.e.srv.Stall(time.Duration(500+c.rng.IntN(1500)) * time.Millisecond)
			breaks = true
		}
		c.hold(time.Duration(200+c.rng.IntN(800)) * time.Millisecond)
		for _, n := range names {
			c.px.remove(t, n)
		}
		if breaks {
			c.e.w.awaitFlowing(t, before-1, 2)
		} else {
			c.awaitMore(t, 2)
		}
	}
	c.finish(t, fmt.Sprintf("random(%d steps)", steps))
}

// downsLocked counts the drops a watcher saw; its lock must be held.
func downsLocked(w *watcher, _ feed.EventKind) int {
	n := 0
	for _, e := range w.events {
		if e.Kind == feed.EventDown {
			n++
		}
	}
	return n
}

// stream picks a direction for a toxic.
func (c *chaosRun) stream() string {
	if c.rng.IntN(2) == 0 {
		return "upstream"
	}
	return "downstream"
}
