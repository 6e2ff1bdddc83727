package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

func TestServeMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "mdcap_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	addr, stop, err := serveMetrics("127.0.0.1:0", reg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "mdcap_test_total 3") {
		t.Errorf("metrics page:\n%s", body)
	}
	if _, _, err := serveMetrics("127.0.0.1:-1", reg, zerolog.Nop()); err == nil {
		t.Error("a bad address was accepted")
	}
}

func TestRedactURL(t *testing.T) {
	if got := redactURL("wss://user:pw@md.example/v1/websocket"); got != "wss://md.example/v1/websocket" {
		t.Errorf("redactURL = %q", got)
	}
}
