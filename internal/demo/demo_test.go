package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/internal/syncbuf"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/segmentio/kafka-go"
)

// startDemo runs the demo on a free port until the test ends and returns
// what it printed once its server is ready.
func startDemo(t *testing.T, cfg Config) string {
	t.Helper()
	out := &syncbuf.Buffer{}
	cfg.Listen, cfg.Out = "127.0.0.1:0", out
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("demo: %v", err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		text := out.String()
		if m := regexp.MustCompile(`Readiness +(http://\S+)`).FindStringSubmatch(text); m != nil {
			if res, err := http.Get(m[1]); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return text
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo not ready; it printed:\n%s", text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// printed returns the first line of text after the line containing after,
// trimmed.
func printed(t *testing.T, text, after string) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if strings.Contains(sc.Text(), after) && sc.Scan() {
			return strings.TrimSpace(sc.Text())
		}
	}
	t.Fatalf("no line after %q in:\n%s", after, text)
	return ""
}

// TestDemoAnonymous checks the demo as a visitor without a key meets it:
// the subscribe example it prints works as printed, and the anonymous plan
// covers what the browser page subscribes to (every ticker at 1s, one book
// at depth 20 and its trades at 100ms), each asked in one message.
func TestDemoAnonymous(t *testing.T) {
	text := startDemo(t, Config{})
	wsURL := regexp.MustCompile(`WebSocket +(ws://\S+)`).FindStringSubmatch(text)
	if wsURL == nil {
		t.Fatalf("no WebSocket URL printed:\n%s", text)
	}
	example := printed(t, text, "Or speak the protocol yourself")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	conn, err := client.Dial(ctx, wsURL[1], client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SendRaw([]byte(example)); err != nil {
		t.Fatal(err)
	}
	for subscribed := false; ; {
		msg, err := conn.Next(ctx)
		if err != nil {
			t.Fatalf("after the printed example %s: %v", example, err)
		}
		if msg.Type == schemas.TypeError {
			t.Fatalf("the printed example %s is refused without a key: %s %s", example, msg.Code, msg.Message)
		}
		subscribed = subscribed || msg.Type == schemas.TypeSubscribed
		if subscribed && msg.Type == schemas.TypeSnapshot {
			break
		}
	}

	// The page's subscriptions, on a second anonymous connection.
	page, err := client.Dial(ctx, wsURL[1], client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer page.Close()
	symbols := symbolsAt(t, strings.Replace(strings.Replace(wsURL[1], "ws://", "http://", 1), "/ws", "/v1/symbols", 1), 20)
	if len(symbols) != 20 { // the demo's default
		t.Fatalf("symbols %v, want 20", symbols)
	}
	var tickers []string
	for _, s := range symbols {
		tickers = append(tickers, "ticker."+s)
	}
	if err := page.Subscribe(1, tickers, 0, "1s"); err != nil {
		t.Fatal(err)
	}
	if err := page.Subscribe(2, []string{"book." + symbols[0]}, 20, "100ms"); err != nil {
		t.Fatal(err)
	}
	if err := page.Subscribe(3, []string{"trades." + symbols[0]}, 0, "100ms"); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"book." + symbols[0]: true, "trades." + symbols[0]: true}
	for _, c := range tickers {
		want[c] = true
	}
	got := map[string]bool{}
	for len(got) < len(want) {
		msg, err := page.Next(ctx)
		if err != nil {
			t.Fatalf("%d of %d page subscriptions acknowledged: %v", len(got), len(want), err)
		}
		switch msg.Type {
		case schemas.TypeError:
			t.Fatalf("page subscription refused without a key: %s %s (%s)", msg.Code, msg.Message, msg.Channel)
		case schemas.TypeSubscribed:
			got[msg.Channel] = true
		}
	}
}

// symbolsAt returns the symbols listed at url (/v1/symbols) once there are
// n.
func symbolsAt(t *testing.T, url string, n int) []string {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if s := listSymbols(t, url); len(s) >= n || time.Now().After(deadline) {
			return s
		}
	}
}

func listSymbols(t *testing.T, url string) []string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list []struct {
		Symbol string `json:"symbol"`
	}
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil || len(list) == 0 {
		t.Fatalf("symbols at %s: %v %v", url, list, err)
	}
	var out []string
	for _, s := range list {
		out = append(out, s.Symbol)
	}
	return out
}

// TestDemoRetention: the demo's broker deletes the oldest records beyond
// its retention, so a long-running demo holds a bounded amount: with a
// 64 KiB bound per partition every partition's first offset moves on, and
// the server keeps serving.
func TestDemoRetention(t *testing.T) {
	text := startDemo(t, Config{Rate: 1000, RetentionBytes: 64 << 10})
	addr := regexp.MustCompile(`embedded Kafka broker \((\S+)\)`).FindStringSubmatch(text)
	if addr == nil {
		t.Fatalf("no broker address printed:\n%s", text)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for p := range 4 {
		conn, err := kafka.DialLeader(ctx, "tcp", addr[1], "marketdata", p)
		if err != nil {
			t.Fatal(err)
		}
		for {
			first, last, err := conn.ReadOffsets()
			if err != nil {
				t.Fatal(err)
			}
			if first > 0 {
				t.Logf("partition %d keeps offsets %d..%d", p, first, last-1)
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("partition %d still keeps every record (%d..%d)", p, first, last-1)
			}
			time.Sleep(100 * time.Millisecond)
		}
		conn.Close()
	}
	res, err := http.Get(regexp.MustCompile(`Readiness +(http://\S+)`).FindStringSubmatch(text)[1])
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("readyz %d after the broker deleted records", res.StatusCode)
	}
}

// The demo's defaults are those of the exchange and of the embedded
// broker, and its configuration is checked by the broker's rules.
func TestDefaultsAndValidate(t *testing.T) {
	c := Config{}.withDefaults()
	if c.Symbols != sim.DefaultSymbols || c.Rate != sim.DefaultRate || c.SnapshotEvery != sim.DefaultSnapshotEvery ||
		c.Seed != sim.DefaultSeed || c.Partitions != broker.DefaultPartitions || c.Topic != feed.DefaultTopic || c.Listen != DefaultListen {
		t.Fatalf("defaults %+v", c)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Config{RetentionBytes: -1}).Validate(); !errors.Is(err, broker.ErrConfig) {
		t.Fatalf("negative retention bytes: %v", err)
	}
	if err := Run(context.Background(), Config{Partitions: -1}); !errors.Is(err, broker.ErrConfig) {
		t.Fatalf("Run with -1 partitions: %v", err)
	}
}
