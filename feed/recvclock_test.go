package feed

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// pipeServer is the server end of a net.Pipe that answers one WebSocket
// handshake, then writes what it is given, one Write per chunk (a
// net.Pipe never joins two writes into one read), and says on written
// when the client has read each chunk.
func pipeServer(t *testing.T, nc net.Conn, chunks <-chan []byte, written chan<- struct{}) {
	defer nc.Close()
	req, err := http.ReadRequest(bufio.NewReader(nc))
	if err != nil {
		t.Errorf("read handshake: %v", err)
		return
	}
	h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(h[:]) + "\r\n\r\n"
	if _, err := nc.Write([]byte(resp)); err != nil {
		t.Errorf("write handshake: %v", err)
		return
	}
	for c := range chunks {
		if _, err := nc.Write(c); err != nil {
			return
		}
		written <- struct{}{}
	}
}

// textFrame is an unmasked server text frame.
func textFrame(s string) []byte { return append([]byte{0x81, byte(len(s))}, s...) }

// TestRecvClockStampsFramesWithTheirRead: frames that arrive in one read
// share its time; a frame that arrives in a later read gets a later one;
// the user's Dialer is used, not changed.
func TestRecvClockStampsFramesWithTheirRead(t *testing.T) {
	chunks := make(chan []byte)
	written := make(chan struct{}, 1)
	dials := 0
	user := &websocket.Dialer{ReadBufferSize: 4096, NetDialContext: func(context.Context, string, string) (net.Conn, error) {
		dials++
		cli, srv := net.Pipe()
		go pipeServer(t, srv, chunks, written)
		return cli, nil
	}}
	before := *user
	d, clockOf := clockedDialer(user)
	ws, _, err := d.Dial("ws://127.0.0.1:1/v1/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	defer close(chunks)
	if dials != 1 || user.NetDial != nil || user.ReadBufferSize != before.ReadBufferSize || user.NetDialTLSContext != nil {
		t.Fatalf("dials %d; user dialer changed: %+v", dials, user)
	}
	clock := clockOf()
	if clock == nil || ws.NetConn() != net.Conn(clock) {
		t.Fatalf("the socket is not clocked: %T", ws.NetConn())
	}
	type msg struct {
		s  string
		at time.Time
	}
	reads := make(chan msg)
	go func() {
		defer close(reads)
		for i := 0; i < 3; i++ {
			_, r, err := ws.NextReader()
			if err != nil {
				t.Error(err)
				return
			}
			b, err := io.ReadAll(r)
			if err != nil {
				t.Error(err)
				return
			}
			reads <- msg{string(b), clock.last}
		}
	}()
	sent := time.Now()
	chunks <- append(textFrame("o"), textFrame(`a[{"s":200,"i":1}]`)...)
	m1, m2 := <-reads, <-reads
	<-written
	got := time.Now()
	if m1.s != "o" || m2.s != `a[{"s":200,"i":1}]` || !m1.at.Equal(m2.at) || m1.at.Before(sent) || m1.at.After(got) {
		t.Fatalf("one read: %+v, %+v (sent %v, read by %v)", m1, m2, sent, got)
	}
	// A frame split over two reads: its time is the second read's.
	f := textFrame("h")
	chunks <- f[:1]
	<-written
	mid := time.Now()
	chunks <- f[1:]
	m3 := <-reads
	<-written
	if m3.s != "h" || m3.at.Before(mid) {
		t.Fatalf("split frame %+v; its first byte was read before %v", m3, mid)
	}
}
