package deploy

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/segmentio/kafka-go"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/producer"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/marketfeed/marketfeed/server"
)

// exported maps every series name a running server exports (histogram
// families under their _bucket, _sum and _count names too) to the label
// names its series carry.
type exported map[string]map[string]bool

// scrape runs a server on an embedded broker, with an API key file, gives
// it the traffic that makes its labelled metrics appear (clients reading
// book updates, a subscription outside the plan, a refused key, a closed
// connection, an invalid Kafka record) and returns what its /metrics
// endpoint exports.
func scrape(t *testing.T) exported {
	t.Helper()
	b, err := broker.Start(broker.Config{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	w := producer.MustNewWriter(producer.Config{Brokers: b.Addrs(), Topic: b.Topic(), BatchTimeout: time.Millisecond})
	defer w.Close()
	ex := sim.New(sim.Config{Symbols: 3, Seed: 1})
	write := func(ms []sim.Message) {
		t.Helper()
		km := make([]kafka.Message, len(ms))
		for i, m := range ms {
			km[i] = kafka.Message{Key: m.Key, Value: m.Value}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.WriteMessages(ctx, km...); err != nil {
			t.Fatal(err)
		}
	}
	write(ex.Snapshots(time.Now(), nil))
	write([]sim.Message{{Key: []byte(ex.Symbols()[0]), Value: []byte(`{"type":"delta","symbol":"` + ex.Symbols()[0] + `"}`)}})

	keys := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(keys, []byte(`{"anonymous":"free","plans":{"free":{"symbols":["*"],"max_depth":20}},"keys":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{
		Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", Keys: keys,
		Feed:   feed.Config{Brokers: b.Addrs(), Topic: b.Topic(), Start: feed.StartEarliest},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !srv.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("server not ready")
		}
		time.Sleep(20 * time.Millisecond)
	}

	url := "ws://" + srv.Addr() + "/ws"
	conn, err := client.Dial(context.Background(), url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	channel := "book." + ex.Symbols()[0]
	if err := conn.Subscribe(1, []string{channel}, 10, "raw"); err != nil {
		t.Fatal(err)
	}
	if err := conn.Subscribe(2, []string{"book." + ex.Symbols()[1]}, 50, "raw"); err != nil { // beyond the plan's depth
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer rcancel()
	updates, denied := 0, false
	for updates < 5 || !denied {
		var evs []sim.Message
		for range 20 {
			evs = ex.Next(time.Now(), evs)
		}
		write(evs)
		for {
			mctx, mcancel := context.WithTimeout(rctx, 50*time.Millisecond)
			m, err := conn.Next(mctx)
			mcancel()
			if err != nil {
				if rctx.Err() != nil {
					t.Fatalf("%d updates, denied %v: %v", updates, denied, err)
				}
				break
			}
			if m.Type == schemas.TypeUpdate && m.Channel == channel {
				updates++
			}
			if m.Type == schemas.TypeError && m.Code == schemas.CodeNotEntitled {
				denied = true
			}
		}
	}
	conn.Close()
	if _, err := client.Dial(context.Background(), url, client.Options{Header: http.Header{"X-Api-Key": {"mfk_notakey"}}}); err == nil {
		t.Fatal("a bogus key was accepted")
	}
	// The close is counted once the server has seen it.
	time.Sleep(200 * time.Millisecond)

	resp, err := http.Get("http://" + srv.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := exported{}
	add := func(name string, m *dto.Metric, extra ...string) {
		if out[name] == nil {
			out[name] = map[string]bool{}
		}
		for _, l := range m.GetLabel() {
			out[name][l.GetName()] = true
		}
		for _, l := range extra {
			out[name][l] = true
		}
	}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			add(name, m)
			if f.GetType() == dto.MetricType_HISTOGRAM {
				add(name+"_bucket", m, "le")
				add(name+"_sum", m)
				add(name+"_count", m)
			}
		}
	}
	return out
}

// TestDashboardQueriesNameExportedMetrics: every query of the Grafana
// dashboard names series a running server exports, groups and matches by
// labels those series carry, and the dashboard covers what operators
// watch.
func TestDashboardQueriesNameExportedMetrics(t *testing.T) {
	data, err := os.ReadFile("grafana/marketfeed.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title      string
		UID        string
		Panels     []panel
		Templating struct {
			List []struct {
				Name  string
				Type  string
				Query json.RawMessage
			}
		}
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&dash); err != nil {
		t.Fatal(err)
	}
	if dash.Title == "" || dash.UID == "" {
		t.Fatal("dashboard without title or uid")
	}
	have := scrape(t)

	var queries []string
	ids := map[int]bool{}
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d used twice", p.ID)
			}
			ids[p.ID] = true
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				queries = append(queries, tg.Expr)
			}
		}
	}
	walk(dash.Panels)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct{ Query string }
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("variable %s: %v", v.Name, err)
		}
		m := labelValues.FindStringSubmatch(q.Query)
		if m == nil {
			t.Fatalf("variable %s: query %q is not label_values(metric, label)", v.Name, q.Query)
		}
		if have[m[1]] == nil {
			t.Errorf("variable %s: the server exports no %s", v.Name, m[1])
		}
		if !targetLabels[m[2]] && !have[m[1]][m[2]] {
			t.Errorf("variable %s: %s has no label %s", v.Name, m[1], m[2])
		}
	}

	used := map[string]bool{}
	for _, q := range queries {
		metrics, lbls := parsePromQL(q)
		if len(metrics) == 0 {
			t.Errorf("query %q names no metric", q)
		}
		for _, m := range metrics {
			used[m] = true
			if have[m] == nil {
				t.Errorf("query %q: the server exports no %s", q, m)
			}
		}
		for _, l := range lbls {
			if targetLabels[l] {
				continue
			}
			if !slices.ContainsFunc(metrics, func(m string) bool { return have[m][l] }) {
				t.Errorf("query %q: no metric of it has label %q", q, l)
			}
		}
	}
	for _, m := range []string{
		"marketfeed_ws_connections", "marketfeed_ws_messages_sent_total",
		"marketfeed_ws_delivery_latency_seconds_bucket", "marketfeed_ws_disconnects_total",
		"marketfeed_feed_consumer_lag", "marketfeed_books", "marketfeed_auth_failures_total",
	} {
		if !used[m] {
			t.Errorf("the dashboard shows no %s", m)
		}
	}
}

type panel struct {
	ID      int
	Type    string
	Title   string
	Panels  []panel
	Targets []struct{ Expr string }
}

// targetLabels are added by Prometheus to every scraped series.
var targetLabels = map[string]bool{"instance": true, "job": true}

var (
	labelValues = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`)
	reString    = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	reMatchers  = regexp.MustCompile(`\{([^}]*)\}`)
	reMatcher   = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	reRange     = regexp.MustCompile(`\[[^\]]*\]`)
	reGrouping  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	reVariable  = regexp.MustCompile(`\$\{[^}]*\}|\$[a-zA-Z_]+`)
	reIdent     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
)

// parsePromQL returns the metric names a PromQL expression selects and
// the label names it matches or groups by. It knows the subset of PromQL
// the dashboard uses: selectors with matchers, ranges, functions,
// aggregations with by/without, numbers and Grafana variables.
func parsePromQL(q string) (metrics, lbls []string) {
	q = reVariable.ReplaceAllString(q, "")
	for _, m := range reMatchers.FindAllStringSubmatch(reString.ReplaceAllString(q, `""`), -1) {
		for _, l := range reMatcher.FindAllStringSubmatch(m[1], -1) {
			lbls = append(lbls, l[1])
		}
	}
	q = reString.ReplaceAllString(q, "")
	q = reMatchers.ReplaceAllString(q, " ")
	q = reRange.ReplaceAllString(q, " ")
	for _, g := range reGrouping.FindAllStringSubmatch(q, -1) {
		for _, l := range strings.Split(g[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				lbls = append(lbls, l)
			}
		}
	}
	q = reGrouping.ReplaceAllString(q, " ")
	for _, id := range reIdent.FindAllStringSubmatch(q, -1) {
		if id[1] != "" { // a function or an aggregation
			continue
		}
		switch id[0] {
		case "and", "or", "unless", "bool", "offset", "inf", "nan", "Inf", "NaN":
			continue
		}
		metrics = append(metrics, id[0])
	}
	return metrics, lbls
}

// TestParsePromQL pins the query reader the dashboard test relies on.
func TestParsePromQL(t *testing.T) {
	m, l := parsePromQL(`histogram_quantile(0.99, sum by (le, instance) (rate(a_bucket{instance=~"$instance",reason!="x}"}[$__rate_interval]))) / ignoring(job) b_total + 1`)
	if !slices.Equal(m, []string{"a_bucket", "b_total"}) {
		t.Errorf("metrics %v", m)
	}
	if !slices.Equal(l, []string{"instance", "reason", "le", "instance", "job"}) {
		t.Errorf("labels %v", l)
	}
}
