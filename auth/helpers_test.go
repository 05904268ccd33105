package auth_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/marketfeed/marketfeed/auth"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
)

// env is a hub guarded by a Store over a real key file, behind a real HTTP
// server on loopback, fed by a real shard with a market that keeps moving.
type env struct {
	t     *testing.T
	path  string
	store *auth.Store
	gate  *auth.Gate
	hub   *fanout.Hub
	shard *feed.Shard
	in    chan feed.Batch
	url   string
	fm    *fanout.Metrics
}

type envConfig struct {
	file    *auth.File
	origins []string
	log     *slog.Logger
	symbols []string
	noFeed  bool // no moving market (the books are still published)
}

func startEnv(t *testing.T, cfg envConfig) *env {
	t.Helper()
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	e := &env{t: t, path: filepath.Join(t.TempDir(), "keys.json")}
	if err := auth.WriteFile(e.path, cfg.file); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.store, err = auth.Open(e.path, nil, cfg.log); err != nil {
		t.Fatal(err)
	}
	e.gate = auth.NewGate(e.store, cfg.origins)
	e.fm = fanout.NewMetrics(nil)
	if e.hub, err = fanout.NewHub(fanout.Config{Authorizer: e.gate, Logger: cfg.log}, e.fm); err != nil {
		t.Fatal(err)
	}
	e.store.OnChange(e.hub.Recheck)
	srv := httptest.NewServer(e.hub)
	e.url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	ctx, cancel := context.WithCancel(context.Background())
	e.shard = feed.NewShard(feed.ShardConfig{Listener: e.hub.NewGroup(), FlushEvery: 20 * time.Millisecond, Logger: cfg.log}, 0)
	e.in = make(chan feed.Batch, 16)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); e.shard.Run(ctx, e.in) }()
	go func() { defer wg.Done(); e.store.Watch(ctx, 0) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = e.hub.Shutdown(sctx)
		srv.Close()
		cancel()
		wg.Wait()
	})
	e.startMarket(ctx, cfg.symbols, !cfg.noFeed, &wg)
	return e
}

// startMarket publishes every symbol's instrument and snapshot, then, if
// moving, a delta and a trade per symbol every 5 ms until ctx ends.
func (e *env) startMarket(ctx context.Context, symbols []string, moving bool, wg *sync.WaitGroup) {
	var b feed.Batch
	for _, s := range symbols {
		b.Records = append(b.Records,
			rec(s, fmt.Sprintf(`{"type":"instrument","symbol":%q,"ts":1767225600000000,"price_scale":2,"size_scale":3}`, s)),
			rec(s, fmt.Sprintf(`{"type":"snapshot","symbol":%q,"ts":1767225600000001,"seq":1,"bids":[["100.00","1.000"],["99.00","2.000"]],"asks":[["101.00","1.000"],["102.00","2.000"]]}`, s)))
	}
	e.in <- b
	e.waitLive(symbols)
	if !moving {
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for seq := 2; ; seq++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			var b feed.Batch
			for _, s := range symbols {
				b.Records = append(b.Records,
					rec(s, fmt.Sprintf(`{"type":"delta","symbol":%q,"ts":1767225600000002,"seq":%d,"bids":[["%d.00","%d.000"]],"asks":[]}`, s, seq, 90-seq%50, 1+seq%7)),
					rec(s, fmt.Sprintf(`{"type":"trade","symbol":%q,"ts":1767225600000003,"trade_id":"%d","price":"100.50","size":"0.010","side":"buy"}`, s, seq)))
			}
			select {
			case e.in <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
}

func rec(sym, v string) feed.Record { return feed.Record{Key: []byte(sym), Value: []byte(v)} }

// waitLive waits until every symbol's book is served. (The shard serves
// its input and Exec in random order, so an Exec after a batch does not
// prove the batch was applied.)
func (e *env) waitLive(symbols []string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, sym := range symbols {
		for {
			if tp := e.hub.Streams(sym); tp != nil {
				if st, _ := tp.State(); st == market.Live {
					break
				}
			}
			if time.Now().After(deadline) {
				e.t.Fatalf("%s is not served", sym)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// rewrite applies edit to the key file and writes it back.
func (e *env) rewrite(edit func(f *auth.File)) time.Time {
	e.t.Helper()
	f, err := auth.ReadFile(e.path)
	if err != nil {
		e.t.Fatal(err)
	}
	edit(f)
	if err := auth.WriteFile(e.path, f); err != nil {
		e.t.Fatal(err)
	}
	return time.Now()
}

// newKey returns a fresh secret and its key file entry.
func newKey(t *testing.T, id string, plan string, ent *auth.Plan) (string, *auth.KeyEntry) {
	t.Helper()
	secret, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return secret, &auth.KeyEntry{ID: id, Hash: auth.HashSecret(secret), Plan: plan, Entitlements: ent}
}

// client is a raw WebSocket client.
type client struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

// dialErr dials with the given headers; it returns the HTTP status of a
// refused upgrade.
func dialErr(url string, h http.Header) (*client, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	status := 0
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(h), OnStatusError: func(s int, _ []byte, _ io.Reader) { status = s }}
	nc, br, _, err := d.Dial(ctx, url)
	if err != nil {
		return nil, status, err
	}
	if br == nil {
		br = bufio.NewReader(nc)
	}
	return &client{nc: nc, br: br}, 101, nil
}

// dial connects with the key as a bearer token ("" for none) and reads
// the welcome.
func dial(t *testing.T, url, key string) *client {
	t.Helper()
	h := http.Header{}
	if key != "" {
		h.Set("Authorization", "Bearer "+key)
	}
	c, status, err := dialErr(url, h)
	if err != nil {
		t.Fatalf("dial: status %d: %v", status, err)
	}
	c.t = t
	t.Cleanup(func() { c.nc.Close() })
	if m := c.next(); m.Type != schemas.TypeWelcome {
		t.Fatalf("first message %+v, want welcome", m)
	}
	return c
}

func (c *client) send(s string) {
	c.t.Helper()
	if err := wsutil.WriteClientMessage(c.nc, ws.OpText, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

type closedError struct {
	code   ws.StatusCode
	reason string
}

func (e *closedError) Error() string { return fmt.Sprintf("closed %d %s", e.code, e.reason) }

// read returns the next data message; a close frame is *closedError.
func (c *client) read(timeout time.Duration) (*schemas.ServerMessage, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
	for {
		f, err := ws.ReadFrame(c.br)
		if err != nil {
			return nil, err
		}
		switch f.Header.OpCode {
		case ws.OpPing:
			_ = wsutil.WriteClientMessage(c.nc, ws.OpPong, f.Payload)
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(f.Payload)
			return nil, &closedError{code, reason}
		case ws.OpText:
			var m schemas.ServerMessage
			if err := json.Unmarshal(f.Payload, &m); err != nil {
				return nil, fmt.Errorf("undecodable %q: %w", f.Payload, err)
			}
			return &m, nil
		}
	}
}

func (c *client) next() *schemas.ServerMessage {
	c.t.Helper()
	m, err := c.read(5 * time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	return m
}

// until reads until ok holds.
func (c *client) until(ok func(*schemas.ServerMessage) bool) *schemas.ServerMessage {
	c.t.Helper()
	for {
		if m := c.next(); ok(m) {
			return m
		}
	}
}

// expectClose reads until the close frame and checks its code.
func (c *client) expectClose(code ws.StatusCode) {
	c.t.Helper()
	for {
		_, err := c.read(5 * time.Second)
		if err == nil {
			continue
		}
		var ce *closedError
		if !errors.As(err, &ce) || ce.code != code {
			c.t.Fatalf("want close %d, got %v", code, err)
		}
		return
	}
}

func isData(m *schemas.ServerMessage) bool {
	switch m.Type {
	case schemas.TypeSnapshot, schemas.TypeUpdate, schemas.TypeTicker, schemas.TypeTrades, schemas.TypeStatus:
		return true
	}
	return false
}

// writeText sends a text message; safe from a goroutine other than the
// test's.
func writeText(c *client, s string) error {
	return wsutil.WriteClientMessage(c.nc, ws.OpText, []byte(s))
}
