package server_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/schemas"
)

// metric scrapes /metrics and returns the value of the sample named
// exactly (name with labels as exposed), or 0.
func metric(t *testing.T, addr, sample string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	return 0
}

// TestBadRecordsAreCountedAndSkipped interleaves malformed and out-of-order
// records with a valid market: each is counted under its reason, the books
// served stay equal to the reference replay of the valid records, and the
// server keeps serving.
func TestBadRecordsAreCountedAndSkipped(t *testing.T) {
	e := startEnv(t, 2)
	ex := sim.New(sim.Config{Symbols: 2, Seed: 5})
	symbols := ex.Symbols()
	sym := symbols[0]
	now := time.Now()
	rep := newReplay(20)
	boot := ex.Snapshots(now, nil)
	for _, m := range boot {
		rep.apply(t, m.Value)
	}
	e.produce(t, boot)
	e.waitLive(t, symbols)

	bad := func(value string) sim.Message {
		return sim.Message{Key: []byte(sym), Value: []byte(value), Time: now}
	}
	nextSeq := func() uint64 { return rep.seq[sym] + 1 }
	ts := now.UnixMicro()
	cases := []struct {
		reason string
		msg    func() sim.Message
	}{
		{"invalid_json", func() sim.Message { return bad(`{"type":"delta",`) }},
		{"unknown_type", func() sim.Message { return bad(fmt.Sprintf(`{"type":"candle","symbol":%q,"ts":%d}`, sym, ts)) }},
		{"bad_decimal", func() sim.Message {
			return bad(fmt.Sprintf(`{"type":"delta","symbol":%q,"ts":%d,"seq":%d,"bids":[["1e5","1"]],"asks":[]}`, sym, ts, nextSeq()))
		}},
		{"negative_size", func() sim.Message {
			return bad(fmt.Sprintf(`{"type":"delta","symbol":%q,"ts":%d,"seq":%d,"bids":[["1.00","-1"]],"asks":[]}`, sym, ts, nextSeq()))
		}},
		{"precision", func() sim.Message {
			return bad(fmt.Sprintf(`{"type":"delta","symbol":%q,"ts":%d,"seq":%d,"bids":[["1.0000000000001","1"]],"asks":[]}`, sym, ts, nextSeq()))
		}},
		{"seq_backwards", func() sim.Message {
			return bad(fmt.Sprintf(`{"type":"delta","symbol":%q,"ts":%d,"seq":%d,"bids":[["1.00","1"]],"asks":[]}`, sym, ts, rep.seq[sym]-1))
		}},
		{"unknown_symbol", func() sim.Message {
			return sim.Message{Key: []byte("NOPE-USD"), Time: now, Value: []byte(fmt.Sprintf(`{"type":"delta","symbol":"NOPE-USD","ts":%d,"seq":1,"bids":[["1.00","1"]],"asks":[]}`, ts))}
		}},
		{"duplicate_level", func() sim.Message {
			// The top bid twice, the second time with a zero beyond the
			// instrument's scale: the same price.
			top := rep.views[sym][rep.seq[sym]].bids[0]
			return bad(fmt.Sprintf(`{"type":"snapshot","symbol":%q,"ts":%d,"seq":%d,"bids":[[%q,%q],[%q,%q]],"asks":[]}`,
				sym, ts, rep.seq[sym], top[0], top[1], top[0]+"0", top[1]))
		}},
		{"key_mismatch", func() sim.Message {
			return sim.Message{Key: []byte(symbols[1]), Time: now, Value: []byte(fmt.Sprintf(`{"type":"trade","symbol":%q,"ts":%d,"trade_id":"x","price":"1","size":"1","side":"buy"}`, sym, ts))}
		}},
	}
	// Valid events, with every bad record slipped in between them, in
	// order, several times.
	var msgs []sim.Message
	for range 3 {
		for _, c := range cases {
			for range 20 {
				now = now.Add(time.Millisecond)
				for _, m := range ex.Next(now, nil) {
					rep.apply(t, m.Value)
					msgs = append(msgs, m)
				}
			}
			msgs = append(msgs, c.msg())
		}
	}
	e.produce(t, msgs)

	// The server still serves, and its book equals the reference.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, seq := e.srv.Hub().Streams(sym).State(); seq == rep.seq[sym] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server book did not reach seq %d", rep.seq[sym])
		}
		time.Sleep(10 * time.Millisecond)
	}
	conn, err := client.Dial(ctx, e.url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Subscribe(1, []string{"book." + sym}, 20, "raw"); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := conn.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type != schemas.TypeSnapshot {
			continue
		}
		want := rep.views[sym][rep.seq[sym]]
		if m.Seq != rep.seq[sym] || !reflect.DeepEqual(m.Bids, want.bids) || !reflect.DeepEqual(m.Asks, want.asks) {
			t.Fatalf("book after bad records:\n got seq %d %v %v\nwant seq %d %v %v", m.Seq, m.Bids, m.Asks, rep.seq[sym], want.bids, want.asks)
		}
		break
	}
	for _, c := range cases {
		sample := fmt.Sprintf(`marketfeed_feed_records_rejected_total{reason=%q}`, c.reason)
		if got := metric(t, e.srv.Addr(), sample); got != 3 {
			t.Errorf("%s = %v, want 3", sample, got)
		}
	}
	if got := metric(t, e.srv.Addr(), "marketfeed_feed_sequence_gaps_total"); got != 0 {
		t.Errorf("gaps %v, want 0", got)
	}
}
