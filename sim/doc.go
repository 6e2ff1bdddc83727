// Package sim is a Tradovate-compatible market-data server for tests and
// rehearsals. `mdcap sim` runs it for people, `mdcap record --sim` embeds
// it, and the integration tests drive it.
//
// # Protocol
//
// REST under /v1: auth/accesstokenrequest (credentials checked; bad ones
// get 200 with errorText; p-ticket/p-time/p-captcha penalties),
// auth/renewaccesstoken (Bearer; same session, later expiry), at most
// Config.MaxSessions sessions per user, contract/find, contract/item,
// contract/suggest and product/find (Bearer). The WebSocket lives on
// /v1/websocket only: `o` on open; `authorize` with the raw token (a
// JSON-quoted token is 401); `h` only after Rules.Heartbeat with nothing
// else sent; several messages batched into one a[...] frame; c[code,"reason"]
// before a server close. Requests are endpoint\nid\nquery\nbody, matched
// case-insensitively: unknown endpoint 404 with d "\"Not found: <ep>\"",
// bad body 400, anything before authorize 401, an unknown symbol 404.
// md/subscribeQuote, md/unsubscribeQuote, md/subscribeDOM and
// md/unsubscribeDOM take a symbol or a contract id; contract/find and
// contract/item also work on the socket.
//
// # Data
//
// Each contract runs a seeded random walk on its tick grid (contract.step
// in market.go, independent of any connection): bid below ask, sizes, a
// growing total volume, trades, open/high/low/settlement now and then, and
// a 10-level DOM per side consistent with the top of book. Every update of
// a contract carries a strictly later millisecond timestamp than the one
// before (above 1000 updates/s these run ahead of the wall clock). A slow
// reader's send queue (Config.SendQueue) conflates: a new update replaces
// the pending one of its contract and type, quote entries merged.
//
// # Rules and faults
//
// Rules (Rules) end a connection by cutting TCP without a close frame, as
// users report the real server does. Faults are methods (DropAll, Stall,
// CloseAll, Shutdown, Malformed, ExpireTokens, PenalizeAuth,
// PenalizeRequests) and scheduled Config.Faults.
//
// # Ground truth
//
// Config.GroundTruth receives, as JSONL, every md update actually written
// to a socket and every connection end with its End* cause; ReadTruth
// parses it. A test compares a recorder's rows against it to prove exactly
// what was lost.
package sim
