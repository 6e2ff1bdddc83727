package capturetest

import (
	"strings"
	"testing"
	"time"

	"github.com/mdcap/mdcap/schema"
)

func TestTallyInFlight(t *testing.T) {
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).UnixNano()
	sec := int64(time.Second)
	gs, ge := base+10*sec, base+12*sec
	px := 1.0
	stored := schema.Quote{RecvTS: base + sec, TS: base + sec, ContractID: 7, BidPrice: &px}
	d := &Dataset{
		Quotes: map[string][]schema.Quote{"ESZ6": {stored}},
		Events: map[string][]schema.Event{"ESZ6": {{Kind: schema.KindGap, GapStart: &gs, GapEnd: &ge, RecvTS: ge}}},
	}
	upd := func(sendT, ts int64) Update {
		q := schema.Quote{TS: ts, ContractID: 7, BidPrice: &px}
		return Update{T: sendT, Conn: 1, Symbol: "ESZ6", Table: "quotes", Key: QuoteKey(&q)}
	}
	tr := &Truth{Updates: []Update{
		upd(base+sec-int64(50*time.Millisecond), base+sec), // recorded, 50 ms after it was sent
		upd(base+11*sec, base+11*sec),                      // sent inside the gap
		upd(base+13*sec, base+11*sec),                      // generated inside the gap, written after it
		upd(base+20*sec, base+20*sec),                      // lost outside every gap
	}}
	got := TallyInFlight(d, tr, 0)
	if got.Sent != 4 || got.Recorded != 1 || got.Covered != 2 || got.HeldBack != 1 || got.Missing != 1 || got.Duplicates != 0 {
		t.Fatalf("tally %s", got)
	}
	if got.MaxDelay != 50*time.Millisecond {
		t.Errorf("max delay %s", got.MaxDelay)
	}
	if len(got.Lost) != 1 || got.Lost[0].T != base+20*sec || !strings.Contains(got.Problems[0], "neither recorded") {
		t.Errorf("lost %v, problems %v", got.Lost, got.Problems)
	}
	d.Quotes["ESZ6"] = append(d.Quotes["ESZ6"], stored)
	if got := TallyInFlight(d, tr, 0); got.Duplicates != 1 {
		t.Errorf("a row stored twice: %s", got)
	}
}
