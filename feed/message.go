package feed

import "time"

// This file is the feed's output: what a Session hands to its consumer
// (the capture pipeline). Everything the session learns about the data or
// about the connection reaches the consumer through a Handler, in order.

// Quote field flags: which entries a quote update carried (absent ⇒ NULL).
const (
	HasBid uint16 = 1 << iota
	HasBidSize
	HasAsk
	HasAskSize
	HasTrade
	HasTradeSize
	HasTotalVolume
	HasOpenInterest
	HasOpen
	HasHigh
	HasLow
	HasSettlement
)

// Quote is one decoded element of an md event's `quotes` array.
type Quote struct {
	ContractID int64
	Timestamp  int64 // server timestamp, Unix nanoseconds
	Has        uint16
	Bid        float64
	BidSize    float64
	Ask        float64 // entries.Offer.price
	AskSize    float64 // entries.Offer.size
	Trade      float64
	TradeSize  float64
	TotalVol   float64
	OpenInt    float64
	Open       float64
	High       float64
	Low        float64
	Settlement float64
}

// Level is one price level of a DOM side. A value the server omitted has
// its Has flag false.
type Level struct {
	Price, Size       float64
	HasPrice, HasSize bool
}

// DOM is one decoded element of an md event's `doms` array.
type DOM struct {
	ContractID int64
	Timestamp  int64   // server timestamp, Unix nanoseconds
	Bids       []Level // best first, as sent
	Offers     []Level // best first, as sent
}

// Batch is the data of one received frame (an `a[...]` frame may carry
// several md events; they are flattened into one batch).
type Batch struct {
	ConnID   int64
	RecvTime int64 // wall clock when the frame was read, Unix nanoseconds
	Quotes   []Quote
	DOMs     []DOM
}

// EventKind says what happened to the session.
type EventKind uint8

const (
	// EventConnected: connection ConnID is open and authorized.
	EventConnected EventKind = iota + 1
	// EventSubscribed: Symbol (ContractID) is subscribed on ConnID for the
	// tables in Detail["tables"]; its data flows from this connection on.
	EventSubscribed
	// EventDown: connection ConnID ended unexpectedly. Reason is one of the
	// schema.Reason* drop reasons; LastFrame is the receive time of the last
	// frame read on it (its connect time if none was read).
	EventDown
	// EventRotated: Symbol switched from connection PrevConnID to ConnID in a
	// make-before-break rotation; nothing was lost or duplicated.
	EventRotated
	// EventClosed: connection ConnID was closed on purpose (rotation or
	// user stop); not a drop.
	EventClosed
	// EventPenalty: the server imposed a wait (p-time, 429 lockout).
	EventPenalty
	// EventShutdown: the server sent a `shutdown` event on ConnID.
	EventShutdown
	// EventAnomaly: a malformed or unexpected frame on ConnID (bursts folded,
	// count in Detail["count"]).
	EventAnomaly
	// EventToken: a token was obtained or renewed; Detail["expires"].
	EventToken
)

func (k EventKind) String() string {
	switch k {
	case EventConnected:
		return "connected"
	case EventSubscribed:
		return "subscribed"
	case EventDown:
		return "down"
	case EventRotated:
		return "rotated"
	case EventClosed:
		return "closed"
	case EventPenalty:
		return "penalty"
	case EventShutdown:
		return "shutdown"
	case EventAnomaly:
		return "anomaly"
	case EventToken:
		return "token"
	}
	return "unknown"
}

// Event is a lifecycle message. Detail never holds a secret.
type Event struct {
	Kind       EventKind
	Time       time.Time // wall clock when it happened
	ConnID     int64
	PrevConnID int64  // EventRotated
	Symbol     string // per-symbol events; "" for the whole connection
	ContractID int64
	Reason     string    // EventDown (schema.Reason*), EventShutdown (reasonCode)
	LastFrame  time.Time // EventDown
	Detail     map[string]any
}

// Handler receives the session's output. The session never calls it from
// two goroutines at once, and calls it in the order things happened. A
// Batch and its slices are reused after HandleBatch returns: copy what
// you keep. Handlers must not block for long: the socket reader waits.
type Handler interface {
	HandleBatch(b *Batch)
	HandleEvent(e Event)
}
