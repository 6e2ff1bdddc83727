package sim

// Causes of a connection end, as recorded in the ground truth's "end"
// field. A shutdown event's end is EndShutdownPrefix + its reasonCode.
const (
	// Faults.
	EndDrop           = "drop"         // DropAll / drop fault: TCP cut, no close frame
	EndServerClose    = "server_close" // CloseAll / close fault: c[...] and WebSocket close
	EndShutdownPrefix = "shutdown:"    // shutdown event then close (also the connection quota)

	// Rules: TCP cut, no close frame.
	EndClientTimeout    = "client_timeout"    // no client frame within Rules.ClientTimeout
	EndAuthorizeTimeout = "authorize_timeout" // not authorized within Rules.AuthorizeTimeout
	EndDuplicateID      = "duplicate_id"      // a request id reused on the connection
	EndRequestRate      = "request_rate"      // more than Rules.MaxRequestsPerSecond
	EndMaxAge           = "max_age"           // older than Rules.MaxConnAge
	EndTokenExpired     = "token_expired"     // token expired under TokenCut
	EndFrameTooLarge    = "frame_too_large"   // client frame above Rules.MaxFrameBytes
	EndBadRequest       = "bad_request"       // a frame that is not endpoint\nid[\nquery\nbody]
	EndProtocolError    = "protocol_error"    // a binary frame
	EndSendOverflow     = "send_overflow"     // responses pile up unread (see maxCtrl)

	// The client or the server process.
	EndClientClose = "client_close" // the client sent a WebSocket close
	EndClientEOF   = "client_eof"   // the client's TCP ended without a close frame
	EndWriteError  = "write_error"  // a write to the socket failed
	EndServerStop  = "server_stop"  // Server.Close
)

// maxCtrl bounds the responses and events queued on a connection whose
// client sends requests but does not read.
const maxCtrl = 10000
