package feed

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// frameKind is the type of a server frame, given by its first character.
type frameKind uint8

const (
	frameOpen      frameKind = iota + 1 // `o`
	frameHeartbeat                      // `h`
	frameArray                          // `a[...]`
	frameClose                          // `c[code,"reason"]`
)

// frame is one parsed server frame. For frameArray, payload is the JSON
// array (it aliases the read buffer: valid until the next read).
type frame struct {
	kind    frameKind
	payload []byte
	code    int
	reason  string
}

// errEmptyFrame and friends describe malformed frames.
var (
	errEmptyFrame   = errors.New("empty frame")
	errUnknownFrame = errors.New("unknown frame type")
)

// parseFrame classifies one text frame of the server. It never panics and
// never allocates for `o`, `h` and `a` frames.
func parseFrame(data []byte) (frame, error) {
	if len(data) == 0 {
		return frame{}, errEmptyFrame
	}
	switch data[0] {
	case 'o':
		if len(data) != 1 {
			return frame{}, fmt.Errorf("parse open frame: %d trailing bytes", len(data)-1)
		}
		return frame{kind: frameOpen}, nil
	case 'h':
		if len(data) != 1 {
			return frame{}, fmt.Errorf("parse heartbeat frame: %d trailing bytes", len(data)-1)
		}
		return frame{kind: frameHeartbeat}, nil
	case 'a':
		p := data[1:]
		if len(p) < 2 || p[0] != '[' {
			return frame{}, errors.New("parse array frame: payload is not a JSON array")
		}
		return frame{kind: frameArray, payload: p}, nil
	case 'c':
		return parseCloseFrame(data[1:])
	}
	return frame{}, errUnknownFrame
}

// parseCloseFrame parses the `[code,"reason"]` of a `c` frame. Either part
// may be missing; a frame that is not a JSON array is an error.
func parseCloseFrame(p []byte) (frame, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(p, &parts); err != nil {
		return frame{}, fmt.Errorf("parse close frame: %w", err)
	}
	f := frame{kind: frameClose}
	if len(parts) > 0 {
		n, err := strconv.ParseFloat(string(parts[0]), 64)
		if err != nil || n != float64(int(n)) {
			return frame{}, fmt.Errorf("parse close frame: code %.40q is not an integer", parts[0])
		}
		f.code = int(n)
	}
	if len(parts) > 1 {
		if err := json.Unmarshal(parts[1], &f.reason); err != nil {
			f.reason = string(parts[1])
		}
	}
	return f, nil
}

// appendRequest encodes a client request `endpoint\nid\nquery\nbody` onto
// buf. The body goes as given: for authorize that is the raw token, never
// a JSON-quoted one.
func appendRequest(buf []byte, endpoint string, id int64, query string, body []byte) []byte {
	buf = append(buf, endpoint...)
	buf = append(buf, '\n')
	buf = strconv.AppendInt(buf, id, 10)
	buf = append(buf, '\n')
	buf = append(buf, query...)
	buf = append(buf, '\n')
	buf = append(buf, body...)
	return buf
}

// heartbeatFrame is the client heartbeat.
var heartbeatFrame = []byte("[]")
