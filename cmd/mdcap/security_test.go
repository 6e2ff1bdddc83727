package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdcap/mdcap/capture/capturetest"
	"github.com/mdcap/mdcap/sim"
)

// selfSigned returns a TLS certificate for 127.0.0.1 signed by itself, and
// its PEM.
func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mdcap test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// tlsFront terminates TLS with a self-signed certificate in front of a
// plain upstream (the simulator's REST and WebSocket port) and returns its
// address and the certificate's PEM.
func tlsFront(t *testing.T, upstream string) (string, []byte) {
	t.Helper()
	cert, certPEM := selfSigned(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, u)
			mu.Unlock()
			wg.Add(2)
			pipe := func(dst, src net.Conn) {
				defer wg.Done()
				_, _ = io.Copy(dst, src)
				dst.Close()
				src.Close()
			}
			go pipe(u, c)
			go pipe(c, u)
		}
	}()
	return ln.Addr().String(), certPEM
}

// simCreds are the record flags of the simulator's default user.
func simCreds() []string {
	return []string{"--username", sim.DefaultUsername, "--password", sim.DefaultPassword,
		"--app-id", sim.DefaultAppID, "--cid", sim.DefaultCID, "--sec", sim.DefaultSec}
}

// TestRecordTLS_SelfSignedRefusedUnlessCAFile: certificate verification
// stays on. A self-signed wss:// server is refused with exit 1 and a
// message that names the cause and the way out; with --ca-file it records.
func TestRecordTLS_SelfSignedRefusedUnlessCAFile(t *testing.T) {
	srv, err := sim.Start(sim.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	addr, certPEM := tlsFront(t, srv.Addr())
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	args := func(out string, extra ...string) []string {
		a := []string{"mdcap", "record", "--md-url", "wss://" + addr + "/v1/websocket", "--auth-url", "https://" + addr + "/v1",
			"--symbols", "ESZ6", "--out", out, "--writer-id", "tls", "--log-format", "json", "--status-interval", "0"}
		return append(append(a, simCreds()...), extra...)
	}

	for _, c := range []struct {
		name string
		args []string
	}{
		{"refused", args(t.TempDir(), "--duration", "20s")},
		// REST over plain HTTP: the refusal comes from the socket's dial.
		{"refused on the socket", append(args(t.TempDir(), "--duration", "20s"), "--auth-url", srv.RESTURL())},
	} {
		t.Run(c.name, func(t *testing.T) { refusedTLS(t, c.args) })
	}

	t.Run("trusted with --ca-file", func(t *testing.T) {
		out := t.TempDir()
		var stdout, stderr bytes.Buffer
		if code := run(args(out, "--duration", "1500ms", "--ca-file", caFile), &stdout, &stderr); code != exitOK {
			t.Fatalf("exit %d\n%s", code, stderr.String())
		}
		d, err := capturetest.Read(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Quotes["ESZ6"]) == 0 {
			t.Errorf("nothing recorded over wss with the CA file\n%s", stderr.String())
		}
	})

	t.Run("bad CA file is a usage error", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.pem")
		if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		if code := run(args(t.TempDir(), "--ca-file", bad), &stdout, &stderr); code != exitUsage {
			t.Fatalf("exit %d, want %d\n%s", code, exitUsage, stderr.String())
		}
		if !strings.Contains(stderr.String(), "--ca-file") {
			t.Errorf("stderr does not name --ca-file: %s", stderr.String())
		}
	})
}

// refusedTLS runs record against the self-signed front without a CA file.
func refusedTLS(t *testing.T, args []string) {
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run(args, &stdout, &stderr)
	if code != exitFatal {
		t.Fatalf("exit %d, want %d\n%s", code, exitFatal, stderr.String())
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("took %s to give up: an untrusted certificate is not worth retrying", el)
	}
	last := lastLine(stderr.String())
	for _, want := range []string{"not trusted", "--ca-file", "certificate"} {
		if !strings.Contains(last, want) {
			t.Errorf("error %q does not say %q", last, want)
		}
	}
	t.Log(last)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// filesUnder returns every regular file under root, with its mode, and
// every folder's mode.
func filesUnder(t *testing.T, root string) (files map[string]fs.FileMode, dirs map[string]fs.FileMode) {
	t.Helper()
	files, dirs = map[string]fs.FileMode{}, map[string]fs.FileMode{}
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		if de.IsDir() {
			dirs[p] = info.Mode().Perm()
		} else {
			files[p] = info.Mode()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, dirs
}
