package sim

import (
	"math"
	"math/rand/v2"
	"time"
)

// This file is the data generator. It knows nothing about connections: it
// turns a contract's state into successive updates, so that a later "blast"
// mode can pre-generate frames and send them as fast as a client reads.

// updateKind says whether an update is a quote or a DOM.
type updateKind uint8

const (
	kindQuote updateKind = iota
	kindDOM
)

func (k updateKind) String() string {
	if k == kindDOM {
		return "dom"
	}
	return "quote"
}

// Quote entries present in an update (bit set ⇒ entry present).
const (
	entBid uint16 = 1 << iota
	entOffer
	entTrade
	entVolume
	entOpenInterest
	entOpen
	entHigh
	entLow
	entSettlement
)

// level is one DOM price level.
type level struct{ price, size float64 }

// update is one md update of one contract, ready to be encoded.
type update struct {
	c    *contract
	kind updateKind
	ms   int64 // server timestamp, Unix milliseconds

	// quote
	has                                    uint16
	bid, bidSize, ask, askSize             float64
	trade, tradeSize, volume, openInterest float64
	open, high, low, settlement            float64

	// DOM, best first
	bids, offers []level

	json []byte // the encoded object, set once by its producer
}

// merge folds the older pending update old into u (u is newer): entries u
// lacks are taken from old. DOMs are whole books, so the newer wins as is.
func (u *update) merge(old *update) {
	if u.kind != kindQuote {
		return
	}
	defer func() { u.json = appendUpdate(nil, u) }()
	missing := old.has &^ u.has
	if missing&entBid != 0 {
		u.bid, u.bidSize = old.bid, old.bidSize
	}
	if missing&entOffer != 0 {
		u.ask, u.askSize = old.ask, old.askSize
	}
	if missing&entTrade != 0 {
		u.trade, u.tradeSize = old.trade, old.tradeSize
	}
	if missing&entVolume != 0 {
		u.volume = old.volume
	}
	if missing&entOpenInterest != 0 {
		u.openInterest = old.openInterest
	}
	if missing&entOpen != 0 {
		u.open = old.open
	}
	if missing&entHigh != 0 {
		u.high = old.high
	}
	if missing&entLow != 0 {
		u.low = old.low
	}
	if missing&entSettlement != 0 {
		u.settlement = old.settlement
	}
	u.has |= old.has
}

// contract is a served contract and its market state. The state is owned
// by the contract's generator goroutine.
type contract struct {
	Contract
	decimals int           // digits after the point of TickSize
	interval time.Duration // between updates

	rng                   *rand.Rand
	bidTicks, spread      int64
	openTicks, highTicks  int64
	lowTicks, settleTicks int64
	volume, openInterest  float64
	lastMS                int64
	steps                 uint64
}

func newContract(c Contract, rate float64, seed int64, index int) *contract {
	if c.Rate > 0 {
		rate = c.Rate
	}
	if rate <= 0 {
		rate = 10
	}
	k := &contract{
		Contract: c,
		decimals: tickDecimals(c.TickSize),
		interval: time.Duration(float64(time.Second) / rate),
		rng:      rand.New(rand.NewPCG(uint64(seed), uint64(index)+0x9e3779b97f4a7c15)),
	}
	if k.interval <= 0 {
		k.interval = time.Microsecond
	}
	t := int64(math.Round(c.Price / c.TickSize))
	if t < 100 {
		t = 100
	}
	k.settleTicks = t
	k.bidTicks = t + int64(k.rng.IntN(9)) - 4
	k.spread = 1
	k.openTicks = k.bidTicks
	k.highTicks = k.bidTicks + 1
	k.lowTicks = k.bidTicks
	k.volume = float64(1000 + k.rng.IntN(50000))
	k.openInterest = float64(100000 + k.rng.IntN(2000000))
	return k
}

// tickDecimals returns the number of decimals needed to print prices on
// a tick grid of size tick.
func tickDecimals(tick float64) int {
	for d := 0; d < 10; d++ {
		scaled := tick * math.Pow10(d)
		if math.Abs(scaled-math.Round(scaled)) < 1e-9 {
			return d
		}
	}
	return 10
}

// price converts ticks to a price on the grid, rounded to the grid's
// decimals so that it prints exactly.
func (k *contract) price(ticks int64) float64 {
	p := math.Pow10(k.decimals)
	return math.Round(float64(ticks)*k.TickSize*p) / p
}

// nextMS returns a server timestamp for the next update: the wall clock in
// milliseconds, but strictly after the previous one, so that successive
// updates of one contract are always distinguishable.
func (k *contract) nextMS(now time.Time) int64 {
	ms := now.UnixMilli()
	if ms <= k.lastMS {
		ms = k.lastMS + 1
	}
	k.lastMS = ms
	return ms
}

// step advances the market by one update and returns the quote and the DOM
// describing it. Both carry the same server timestamp.
func (k *contract) step(now time.Time, domLevels int) (q, d *update) {
	k.steps++
	r := k.rng
	// Random walk of the best bid on the tick grid.
	switch x := r.IntN(10); {
	case x < 2:
		k.bidTicks--
	case x < 4:
		k.bidTicks++
	}
	if k.bidTicks < 1 {
		k.bidTicks = 1
	}
	k.spread = 1
	if r.IntN(20) == 0 {
		k.spread = 2
	}
	askTicks := k.bidTicks + k.spread
	ms := k.nextMS(now)

	q = &update{c: k, kind: kindQuote, ms: ms}
	q.has = entBid | entOffer | entVolume
	q.bid, q.bidSize = k.price(k.bidTicks), float64(1+r.IntN(60))
	q.ask, q.askSize = k.price(askTicks), float64(1+r.IntN(60))
	if r.IntN(3) == 0 { // a trade happened since the last update
		tradeTicks := k.bidTicks
		if r.IntN(2) == 0 {
			tradeTicks = askTicks
		}
		size := float64(1 + r.IntN(12))
		k.volume += size
		q.has |= entTrade
		q.trade, q.tradeSize = k.price(tradeTicks), size
		if tradeTicks > k.highTicks {
			k.highTicks = tradeTicks
		}
		if tradeTicks < k.lowTicks {
			k.lowTicks = tradeTicks
		}
	}
	q.volume = k.volume
	if k.steps%10 == 1 { // session statistics now and then
		q.has |= entOpenInterest | entOpen | entHigh | entLow | entSettlement
		q.openInterest = k.openInterest
		q.open, q.high, q.low = k.price(k.openTicks), k.price(k.highTicks), k.price(k.lowTicks)
		q.settlement = k.price(k.settleTicks)
	}

	d = &update{c: k, kind: kindDOM, ms: ms}
	d.bids = make([]level, 0, domLevels)
	d.offers = make([]level, 0, domLevels)
	d.bids = append(d.bids, level{q.bid, q.bidSize})
	d.offers = append(d.offers, level{q.ask, q.askSize})
	for i := int64(1); i < int64(domLevels); i++ {
		if k.bidTicks-i >= 1 {
			d.bids = append(d.bids, level{k.price(k.bidTicks - i), float64(1 + r.IntN(40*int(i)+20))})
		}
		d.offers = append(d.offers, level{k.price(askTicks + i), float64(1 + r.IntN(40*int(i)+20))})
	}
	return q, d
}
