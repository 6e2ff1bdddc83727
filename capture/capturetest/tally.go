package capturetest

import (
	"fmt"
	"sort"
	"time"

	"github.com/mdcap/mdcap/schema"
)

// Tally is a comparison of a dataset with the ground truth that counts each
// kind of outcome, for reports (chaos scenarios, soak runs).
type Tally struct {
	Sent       int           // updates the server wrote
	Recorded   int           // quotes and dom rows in the dataset
	Covered    int           // sent, not recorded, inside a gap of their symbol
	HeldBack   int           // of Covered: sent after the gap ended, but generated (server ts) inside it
	Missing    int           // sent, not recorded, outside every gap: a contract violation
	Duplicates int           // rows recorded more often than their update was sent
	Phantoms   int           // rows no sent update explains
	MaxDelay   time.Duration // longest send-to-receive time of a recorded update
	Problems   []string      // the first violations, described
	Lost       []Update      // the Missing updates, in send order
}

// String is the one-line figure of a tally.
func (t Tally) String() string {
	return fmt.Sprintf("sent %d, recorded %d, covered by gaps %d (%d of them held back by the server past the gap), unexplained missing %d, duplicates %d, phantoms %d, max delay %s",
		t.Sent, t.Recorded, t.Covered, t.HeldBack, t.Missing, t.Duplicates, t.Phantoms, t.MaxDelay.Round(time.Millisecond))
}

// serverTS is the server timestamp a truth key starts with ("<ts>/…").
func serverTS(key string) int64 {
	var ts int64
	for _, c := range key {
		if c < '0' || c > '9' {
			break
		}
		ts = ts*10 + int64(c-'0')
	}
	return ts
}

// TallyInFlight compares d with tr like Compare, counting each outcome. An
// update the server wrote but the recorder never read counts as covered when
// its send time, moved forward by the longest send-to-receive delay measured
// on the run plus margin, falls inside a gap of its symbol: gap bounds are
// receive times, and a frame still in flight (in a proxy's queue, a throttled
// link, a socket buffer) when its connection died was sent before the last
// frame the recorder did read on it was received.
func TallyInFlight(d *Dataset, tr *Truth, margin time.Duration) Tally {
	type k struct{ sym, table, key string }
	type rec struct {
		n     int
		first int64 // earliest recv_ts
	}
	stored := map[k]*rec{}
	var t Tally
	add := func(kk k, recv int64) {
		r := stored[kk]
		if r == nil {
			r = &rec{first: recv}
			stored[kk] = r
		}
		r.n++
		r.first = min(r.first, recv)
		t.Recorded++
	}
	for sym, rows := range d.Quotes {
		for i := range rows {
			add(k{sym, "quotes", QuoteKey(&rows[i])}, rows[i].RecvTS)
		}
	}
	for sym, rows := range d.DOMs {
		for i := range rows {
			add(k{sym, "dom", DOMKey(&rows[i])}, rows[i].RecvTS)
		}
	}
	sent := map[k][]Update{}
	for _, u := range tr.Updates {
		kk := k{u.Symbol, u.Table, u.Key}
		sent[kk] = append(sent[kk], u)
	}
	t.Sent = len(tr.Updates)
	problem := func(format string, args ...any) {
		if len(t.Problems) < 20 {
			t.Problems = append(t.Problems, fmt.Sprintf(format, args...))
		}
	}
	for kk, r := range stored {
		us, ok := sent[kk]
		if !ok {
			t.Phantoms += r.n
			problem("phantom %s row %s %s (%d)", kk.table, kk.sym, kk.key, r.n)
			continue
		}
		if r.n > len(us) {
			t.Duplicates += r.n - len(us)
			problem("%s %s %s recorded %d times, sent %d", kk.sym, kk.table, kk.key, r.n, len(us))
		}
		if dl := time.Duration(r.first - us[0].T); dl > t.MaxDelay {
			t.MaxDelay = dl
		}
	}
	slack := t.MaxDelay + margin
	gaps := map[string][]schema.Event{}
	for sym := range d.Events {
		gaps[sym] = d.Kind(sym, schema.KindGap)
	}
	inGap := func(sym string, at int64) bool {
		for _, g := range gaps[sym] {
			if g.GapStart != nil && g.GapEnd != nil && *g.GapStart <= at+int64(slack) && at <= *g.GapEnd {
				return true
			}
		}
		return false
	}
	var lost []Update
	for kk, us := range sent {
		if stored[kk] != nil {
			continue
		}
		for _, u := range us {
			switch {
			case inGap(u.Symbol, u.T):
				t.Covered++
			case inGap(u.Symbol, serverTS(u.Key)):
				// Generated inside the gap but written later, on the
				// connection the recorder had already given up (a stalled
				// server flushing its queue into a dead socket): data of
				// the gap's period that no live connection carried.
				t.Covered++
				t.HeldBack++
			default:
				t.Missing++
				lost = append(lost, u)
			}
		}
	}
	sort.Slice(lost, func(i, j int) bool { return lost[i].T < lost[j].T })
	t.Lost = lost
	for _, u := range lost {
		problem("%s %s sent at %s on server conn %d is neither recorded nor inside a gap",
			u.Symbol, u.Table, time.Unix(0, u.T).UTC().Format(time.RFC3339Nano), u.Conn)
	}
	return t
}
