package auth_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/internal/syncbuf"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/auth"
	"github.com/prometheus/client_golang/prometheus"
)

type syncBuffer = syncbuf.Buffer

// TestSecretsNeverLogged runs keys through every path that logs or
// reports (load, good and bad attempts, reloads, a broken key file,
// revocation) with debug logging captured, and checks that no secret, nor
// the random part of one, appears in the logs, in refusals or in metrics.
func TestSecretsNeverLogged(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	alice, ka := newKey(t, "alice", "full", nil)
	bob, kb := newKey(t, "bob", "full", nil)
	e := startEnv(t, envConfig{
		file:    &auth.File{Anonymous: "full", Plans: map[string]*auth.Plan{"full": {Symbols: []string{"*"}, MaxConnections: 1}}, Keys: []*auth.KeyEntry{ka, kb}},
		log:     log,
		symbols: []string{"BTC-USD"},
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.store.Metrics().Failures, e.store.Metrics().Denials, e.store.Metrics().Revocations, e.store.Metrics().Reloads)

	var bodies bytes.Buffer
	refusedBody := func(h http.Header) {
		d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(h), OnStatusError: func(_ int, _ []byte, r io.Reader) {
			buf := make([]byte, 512) // one read: the connection stays open
			n, _ := r.Read(buf)
			bodies.Write(buf[:n])
		}}
		if nc, _, _, err := d.Dial(t.Context(), e.url); err == nil {
			nc.Close()
		}
	}
	wrong, _ := auth.NewSecret()
	refusedBody(http.Header{"Authorization": {"Bearer " + wrong}})
	refusedBody(http.Header{"X-Api-Key": {alice + "x"}})

	anon, _, err := dialErr(e.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	anon.t = t
	_ = anon.next()
	anon.send(`{"op":"auth","key":"` + wrong + `"}`)
	anon.expectClose(4003)

	a := dial(t, e.url, alice)
	b := dial(t, e.url, bob)
	b.send(`{"op":"subscribe","channel":"trades.NOPE-USD"}`)
	_ = b.next()
	// A second connection of alice is over her plan's limit.
	c, _, err := dialErr(e.url, http.Header{"Authorization": {"Bearer " + alice}})
	if err == nil {
		c.nc.Close()
	}
	// A broken key file is reported and ignored; a fixed one revokes bob.
	if err := os.WriteFile(e.path, []byte(`{"plans":{"full":{"symbols":["*"]}},"keys":[{"id":"bob","hash":"`+bob+`","plan":"full"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(logs.String(), "key file not reloaded") {
		time.Sleep(20 * time.Millisecond) // bounded by the test timeout
	}
	if err := e.store.Reload(); err == nil || strings.Contains(err.Error(), bob) {
		t.Fatalf("reload of a broken file: %v", err)
	}
	kb.Revoked = true
	if err := auth.WriteFile(e.path, &auth.File{Plans: map[string]*auth.Plan{"full": {Symbols: []string{"*"}}}, Keys: []*auth.KeyEntry{ka, kb}}); err != nil {
		t.Fatal(err)
	}
	b.expectClose(4003)
	a.nc.Close()

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var metrics strings.Builder
	for _, f := range families {
		fmt.Fprintln(&metrics, f.String())
	}
	if !strings.Contains(logs.String(), "key file loaded") || bodies.Len() == 0 || !strings.Contains(metrics.String(), "marketfeed_auth_failures_total") {
		t.Fatalf("nothing captured: logs %q, bodies %q", logs.String(), bodies.String())
	}
	for _, secret := range []string{alice, bob, wrong} {
		random := strings.TrimPrefix(secret, auth.KeyPrefix)
		for where, text := range map[string]string{"logs": logs.String(), "refusals": bodies.String(), "metrics": metrics.String()} {
			if strings.Contains(text, random[:16]) {
				t.Errorf("a secret appears in the %s:\n%s", where, text)
			}
		}
	}
}
