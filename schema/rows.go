package schema

// All timestamps are Unix nanoseconds stored as Parquet
// TIMESTAMP(NANOS, isAdjustedToUTC=true). Nullable doubles are pointers:
// nil is written as NULL, never 0.

// Quote is one row of the quotes table: one quote update as received.
type Quote struct {
	RecvTS          int64    `parquet:"recv_ts,timestamp(nanosecond:utc),delta"`
	TS              int64    `parquet:"ts,timestamp(nanosecond:utc),delta"`
	ContractID      int64    `parquet:"contract_id,delta"`
	BidPrice        *float64 `parquet:"bid_price,optional,split"`
	BidSize         *float64 `parquet:"bid_size,optional,split"`
	AskPrice        *float64 `parquet:"ask_price,optional,split"`
	AskSize         *float64 `parquet:"ask_size,optional,split"`
	TradePrice      *float64 `parquet:"trade_price,optional,split"`
	TradeSize       *float64 `parquet:"trade_size,optional,split"`
	TotalVolume     *float64 `parquet:"total_volume,optional,split"`
	OpenInterest    *float64 `parquet:"open_interest,optional,split"`
	OpenPrice       *float64 `parquet:"open_price,optional,split"`
	HighPrice       *float64 `parquet:"high_price,optional,split"`
	LowPrice        *float64 `parquet:"low_price,optional,split"`
	SettlementPrice *float64 `parquet:"settlement_price,optional,split"`
	ConnID          int64    `parquet:"conn_id,delta"`
	Seq             int64    `parquet:"seq,delta"`
}

// DOM is one row of the dom table: the whole book of one DOM update, each
// side a list in the server's order (best first). A list element is NULL
// where the server omitted that value; an empty side is an empty list.
type DOM struct {
	RecvTS     int64      `parquet:"recv_ts,timestamp(nanosecond:utc),delta"`
	TS         int64      `parquet:"ts,timestamp(nanosecond:utc),delta"`
	ContractID int64      `parquet:"contract_id,delta"`
	ConnID     int64      `parquet:"conn_id,delta"`
	Seq        int64      `parquet:"seq,delta"`
	BidPrices  []*float64 `parquet:"bid_prices,list" parquet-element:",optional,split"`
	BidSizes   []*float64 `parquet:"bid_sizes,list" parquet-element:",optional,split"`
	AskPrices  []*float64 `parquet:"ask_prices,list" parquet-element:",optional,split"`
	AskSizes   []*float64 `parquet:"ask_sizes,list" parquet-element:",optional,split"`
}

// Tick is one row of the ticks table: one trade tick, stored once per
// tick id and symbol.
type Tick struct {
	RecvTS     int64    `parquet:"recv_ts,timestamp(nanosecond:utc),delta"`
	TS         int64    `parquet:"ts,timestamp(nanosecond:utc),delta"`
	ContractID int64    `parquet:"contract_id,delta"`
	ConnID     int64    `parquet:"conn_id,delta"`
	TickID     int64    `parquet:"tick_id,delta"`
	Price      float64  `parquet:"price,split"`
	Size       float64  `parquet:"size,split"`
	BidPrice   *float64 `parquet:"bid_price,optional,split"`
	AskPrice   *float64 `parquet:"ask_price,optional,split"`
	BidSize    *float64 `parquet:"bid_size,optional,split"`
	AskSize    *float64 `parquet:"ask_size,optional,split"`
	Source     string   `parquet:"source,dict"`
}

// Event is one row of the events table: something that happened to the
// capture, stored next to the data it affects.
type Event struct {
	RecvTS   int64  `parquet:"recv_ts,timestamp(nanosecond:utc),delta"`
	RunID    string `parquet:"run_id,dict"`
	Kind     string `parquet:"kind,dict"`
	GapStart *int64 `parquet:"gap_start,optional,timestamp(nanosecond:utc)"`
	GapEnd   *int64 `parquet:"gap_end,optional,timestamp(nanosecond:utc)"`
	Reason   string `parquet:"reason,dict"`
	ConnID   int64  `parquet:"conn_id"`
	Detail   string `parquet:"detail"`
}
