package fanout_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// freshServer is a testServer whose shard has freshness bounds and a
// feed the test can take down.
type freshServer struct {
	*testServer
	ingest *feed.IngestMetrics
	downAt atomic.Int64 // UnixNano when the feed went down; 0 while it is up
}

// startFreshServer starts a hub and a shard like startServer, with the
// shard configured by sc (Listener, Metrics, LastFetch and FlushEvery are set
// here). The shard's feed is up until the test calls setDown.
func startFreshServer(t *testing.T, sc feed.ShardConfig) *freshServer {
	t.Helper()
	m := fanout.NewMetrics(nil)
	hub, err := fanout.NewHub(fanout.Config{}, m)
	if err != nil {
		t.Fatal(err)
	}
	fs := &freshServer{ingest: feed.NewIngestMetrics(nil)}
	srv := httptest.NewServer(hub)
	ctx, cancel := context.WithCancel(context.Background())
	sc.Listener, sc.Metrics, sc.FlushEvery = hub.NewGroup(), fs.ingest, 20*time.Millisecond
	sc.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	sc.LastFetch = func() time.Time {
		if d := fs.downAt.Load(); d != 0 {
			return time.Unix(0, d)
		}
		return time.Now()
	}
	shard := feed.NewShard(sc, 0)
	in := make(chan feed.Batch, 16)
	done := make(chan struct{})
	go func() { shard.Run(ctx, in); close(done) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = hub.Shutdown(sctx)
		srv.Close()
		cancel()
		<-done
	})
	fs.testServer = &testServer{hub: hub, shard: shard, in: in, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws", m: m}
	return fs
}

func (fs *freshServer) setDown(down bool) {
	if down {
		fs.downAt.Store(time.Now().UnixNano())
	} else {
		fs.downAt.Store(0)
	}
}

// listed returns the /v1/symbols entry of sym.
func listed(t *testing.T, hub *fanout.Hub, sym string) fanout.SymbolStatus {
	t.Helper()
	for _, st := range hub.Symbols() {
		if st.Symbol == sym {
			return st
		}
	}
	t.Fatalf("%s not listed", sym)
	return fanout.SymbolStatus{}
}

func epochSnapshot(sym string, epoch, seq int, ts int64, bids, asks string) string {
	return fmt.Sprintf(`{"type":"snapshot","symbol":%q,"ts":%d,"epoch":%d,"seq":%d,"bids":%s,"asks":%s}`, sym, ts, epoch, seq, bids, asks)
}

func epochDelta(sym string, epoch, seq int, ts int64, bids, asks string) string {
	return fmt.Sprintf(`{"type":"delta","symbol":%q,"ts":%d,"epoch":%d,"seq":%d,"bids":%s,"asks":%s}`, sym, ts, epoch, seq, bids, asks)
}

func bookMsg(c *wsClient) *schemas.ServerMessage {
	c.t.Helper()
	return c.until(func(m *schemas.ServerMessage) bool {
		switch m.Type {
		case schemas.TypeSnapshot, schemas.TypeUpdate, schemas.TypeStatus:
			return strings.HasPrefix(m.Channel, "book.")
		}
		return false
	})
}

func wantBook(t *testing.T, m *schemas.ServerMessage, typ string, epoch, seq uint64) {
	t.Helper()
	if m.Type != typ || m.Epoch != epoch || m.Seq != seq {
		t.Fatalf("got %s epoch %d seq %d (%+v), want %s epoch %d seq %d", m.Type, m.Epoch, m.Seq, m, typ, epoch, seq)
	}
}

func wantStatus(t *testing.T, m *schemas.ServerMessage, reason string) {
	t.Helper()
	if m.Type != schemas.TypeStatus || m.Status != schemas.StatusStale || m.Reason != reason {
		t.Fatalf("got %+v, want status stale reason %s", m, reason)
	}
}

// A publisher that restarts numbers its deltas from a lower seq in a new
// epoch: its snapshot replaces the book whatever its seq, subscribers get
// it as a snapshot of the new epoch, and late deltas of the old epoch are
// rejected and counted. A delta of a newer epoch before its snapshot makes
// the book stale (gap).
func TestPublisherEpochRestart(t *testing.T) {
	s := startFreshServer(t, feed.ShardConfig{})
	const sym = "ETH-USD"
	s.feed(instrument(sym, 2, 4), epochSnapshot(sym, 5, 1000, 1767225600000001, `[["10.00","1"]]`, `[["11.00","1"]]`))
	s.sync(t)
	c := dial(t, s.url)
	c.sendText(`{"op":"subscribe","channel":"book.ETH-USD","depth":5}`)
	wantBook(t, bookMsg(c), schemas.TypeSnapshot, 5, 1000)
	s.feed(epochDelta(sym, 5, 1001, 1767225600000002, `[["10.00","2"]]`, `[]`))
	wantBook(t, bookMsg(c), schemas.TypeUpdate, 5, 1001)

	// Restart: lower seqs, new epoch.
	s.feed(epochSnapshot(sym, 6, 10, 1767225600000003, `[["10.50","1"]]`, `[["11.00","3"]]`))
	m := bookMsg(c)
	wantBook(t, m, schemas.TypeSnapshot, 6, 10)
	if m.Bids[0] != [2]string{"10.50", "1.0000"} || m.TS != 1767225600000003 {
		t.Fatalf("new epoch snapshot %+v", m)
	}
	if st := listed(t, s.hub, sym); st.State != "live" || st.Epoch != 6 || st.Seq != 10 {
		t.Fatalf("listed as %+v", st)
	}
	// A late delta of the old epoch is rejected, whatever its seq.
	s.feed(epochDelta(sym, 5, 1002, 1767225600000004, `[["10.00","3"]]`, `[]`),
		epochSnapshot(sym, 5, 1002, 1767225600000004, `[["10.00","3"]]`, `[]`),
		epochDelta(sym, 6, 11, 1767225600000005, `[["10.50","2"]]`, `[]`))
	m = bookMsg(c)
	wantBook(t, m, schemas.TypeUpdate, 6, 11)
	if m.FirstSeq != 11 {
		t.Fatalf("update %+v", m)
	}
	if n := testutil.ToFloat64(s.ingest.Rejected.WithLabelValues(market.ReasonOldEpoch)); n != 2 {
		t.Errorf("old_epoch rejections %v, want 2", n)
	}
	if n := testutil.ToFloat64(s.ingest.Snapshots.WithLabelValues("new_epoch")); n != 1 {
		t.Errorf("new_epoch snapshots %v, want 1", n)
	}
	// The next epoch's delta before its snapshot: the book is stale.
	s.feed(epochDelta(sym, 7, 1, 1767225600000006, `[["10.50","5"]]`, `[]`))
	wantStatus(t, bookMsg(c), schemas.ReasonGap)
	s.feed(epochSnapshot(sym, 7, 1, 1767225600000006, `[["10.50","5"]]`, `[]`))
	wantBook(t, bookMsg(c), schemas.TypeSnapshot, 7, 1)
}

// A crossed book (best bid at or above best ask) is stale with reason
// crossed until a snapshot leaves it uncrossed; deltas that uncross it do
// not make it live.
func TestCrossedBookIsStale(t *testing.T) {
	s := startFreshServer(t, feed.ShardConfig{})
	const sym = "SOL-USD"
	s.feed(instrument(sym, 2, 0), snapshot(sym, 1, `[["10.00","1"]]`, `[["11.00","1"]]`))
	s.sync(t)
	c := dial(t, s.url)
	c.sendText(`{"op":"subscribe","channel":"book.SOL-USD","depth":5}`)
	wantBook(t, bookMsg(c), schemas.TypeSnapshot, 0, 1)
	s.feed(delta(sym, 2, `[["11.00","2"]]`, `[]`)) // bid at the ask
	wantStatus(t, bookMsg(c), schemas.ReasonCrossed)
	if st := listed(t, s.hub, sym); st.State != "stale" || st.Reason != "crossed" || st.Seq != 2 {
		t.Fatalf("listed as %+v", st)
	}
	s.feed(delta(sym, 3, `[["11.00","0"]]`, `[]`)) // uncrossed by a delta: still stale
	s.sync(t)
	if st := listed(t, s.hub, sym); st.State != "stale" || st.Reason != "crossed" {
		t.Fatalf("after the uncrossing delta: %+v", st)
	}
	s.feed(snapshot(sym, 3, `[["10.00","1"]]`, `[["11.00","1"]]`))
	m := bookMsg(c)
	wantBook(t, m, schemas.TypeSnapshot, 0, 3)
	s.feed(delta(sym, 4, `[["10.00","2"]]`, `[]`))
	wantBook(t, bookMsg(c), schemas.TypeUpdate, 0, 4)

	// A crossed snapshot is stale from the start; a late subscriber is told.
	s.feed(snapshot(sym, 5, `[["12.00","1"]]`, `[["11.00","1"]]`))
	wantStatus(t, bookMsg(c), schemas.ReasonCrossed)
	c2 := dial(t, s.url)
	c2.sendText(`{"op":"subscribe","channel":"book.SOL-USD","depth":5,"interval":"100ms"}`)
	wantStatus(t, bookMsg(c2), schemas.ReasonCrossed)
}

// Book messages carry the exchange time of event seq: on throttled
// streams a trade after the last delta does not lend its ts to the update
// or to the snapshot of a new subscriber; the ticker carries the newest.
func TestBookTSIsEventSeq(t *testing.T) {
	s := startFreshServer(t, feed.ShardConfig{})
	const sym = "BTC-USD"
	tsTrade := func(id string, ts int64) string {
		return fmt.Sprintf(`{"type":"trade","symbol":%q,"ts":%d,"trade_id":%q,"price":"10.00","size":"1","side":"buy"}`, sym, ts, id)
	}
	s.feed(instrument(sym, 2, 0), epochSnapshot(sym, 0, 1, 1_000_000, `[["10.00","1"]]`, `[["11.00","1"]]`),
		epochDelta(sym, 0, 2, 2_000_000, `[["10.00","2"]]`, `[]`), tsTrade("a", 3_000_000))
	s.sync(t)
	var cs []*wsClient
	for _, iv := range []string{"raw", "100ms", "1s"} {
		c := dial(t, s.url)
		c.sendText(`{"op":"subscribe","channel":"book.BTC-USD","depth":5,"interval":"` + iv + `"}`)
		m := bookMsg(c)
		wantBook(t, m, schemas.TypeSnapshot, 0, 2)
		if m.TS != 2_000_000 {
			t.Errorf("%s snapshot at seq 2 has ts %d, want the ts of delta 2", iv, m.TS)
		}
		cs = append(cs, c)
	}
	tk := dial(t, s.url)
	tk.sendText(`{"op":"subscribe","channel":"ticker.BTC-USD","interval":"raw"}`)
	if m := tk.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeTicker }); m.TS != 3_000_000 {
		t.Errorf("ticker ts %d, want the newest event's", m.TS)
	}
	s.feed(epochDelta(sym, 0, 3, 4_000_000, `[["10.00","3"]]`, `[]`), tsTrade("b", 5_000_000),
		epochDelta(sym, 0, 4, 6_000_000, `[["10.00","4"]]`, `[]`), tsTrade("c", 7_000_000))
	for i, iv := range []string{"raw", "100ms", "1s"} {
		m := bookMsg(cs[i])
		for m.Seq < 4 {
			if m.TS != 4_000_000 {
				t.Errorf("%s update at seq %d has ts %d", iv, m.Seq, m.TS)
			}
			m = bookMsg(cs[i])
		}
		wantBook(t, m, schemas.TypeUpdate, 0, 4)
		if m.TS != 6_000_000 {
			t.Errorf("%s update at seq 4 has ts %d, want 6000000 (the ts of delta 4)", iv, m.TS)
		}
	}
	// A snapshot on resync of a throttled stream: the ts of event seq too.
	cs[1].sendText(`{"op":"resync","channel":"book.BTC-USD"}`)
	if m := bookMsg(cs[1]); m.Type != schemas.TypeSnapshot || m.TS != 6_000_000 {
		t.Errorf("resync snapshot %+v, want ts 6000000", m)
	}
}

// A ticker carries window_start, the exchange time from which its
// statistics are complete: the first event the server read until a whole
// window has passed, then the window's start.
func TestTickerWindowStart(t *testing.T) {
	s := startFreshServer(t, feed.ShardConfig{})
	const sym = "BTC-USD"
	t0 := int64(1767225600_000000)
	tr := func(id string, ts int64) string {
		return fmt.Sprintf(`{"type":"trade","symbol":%q,"ts":%d,"trade_id":%q,"price":"10.00","size":"1","side":"buy"}`, sym, ts, id)
	}
	s.feed(instrument(sym, 2, 0), tr("1", t0+5_000_000), tr("2", t0+6_000_000))
	s.sync(t)
	c := dial(t, s.url)
	c.sendText(`{"op":"subscribe","channel":"ticker.BTC-USD","interval":"raw"}`)
	m := c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeTicker })
	if m.WindowStart != t0+5_000_000 || m.Count != 2 {
		t.Fatalf("ticker %+v: window_start %d, want %d (the first event read)", m, m.WindowStart, t0+5_000_000)
	}
	later := t0 + 25*3600_000_000
	s.feed(tr("3", later))
	m = c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeTicker && m.Count == 1 })
	minute := int64(60_000_000)
	if want := (later/minute - 1439) * minute; m.WindowStart != want {
		t.Fatalf("window_start %d after a whole window, want %d", m.WindowStart, want)
	}
}

// When the partition cannot be fetched for FeedDownAfter, book subscribers
// get stale feed_down and a fresh snapshot when it can again; a book that
// nothing advanced for SilentAfter gets stale silent, and its next delta
// brings a snapshot.
func TestFeedDownAndSilent(t *testing.T) {
	s := startFreshServer(t, feed.ShardConfig{FeedDownAfter: 200 * time.Millisecond, SilentAfter: 600 * time.Millisecond})
	const sym = "ETH-USD"
	s.feed(instrument(sym, 2, 4), epochSnapshot(sym, 3, 7, 1767225600000001, `[["10.00","1"]]`, `[["11.00","1"]]`))
	s.sync(t)
	c := dial(t, s.url)
	c.sendText(`{"op":"subscribe","channel":"book.ETH-USD","depth":5}`)
	wantBook(t, bookMsg(c), schemas.TypeSnapshot, 3, 7)
	tk := dial(t, s.url)
	tk.sendText(`{"op":"subscribe","channel":"ticker.ETH-USD","interval":"raw"}`)
	ticker := func() *schemas.ServerMessage {
		return tk.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeTicker })
	}
	if m := ticker(); m.Status != "" || m.Bid != "10.00" {
		t.Fatalf("ticker of a live book %+v", m)
	}

	s.setDown(true)
	start := time.Now()
	wantStatus(t, bookMsg(c), schemas.ReasonFeedDown)
	if took := time.Since(start); took < 200*time.Millisecond || took > 2*time.Second {
		t.Errorf("feed_down after %v, bound 200ms", took)
	}
	if st := listed(t, s.hub, sym); st.State != "stale" || st.Reason != "feed_down" {
		t.Fatalf("listed as %+v", st)
	}
	// The ticker says so too, without the book's top.
	if m := ticker(); m.Status != schemas.StatusStale || m.Reason != schemas.ReasonFeedDown || m.Bid != "" || m.Ask != "" {
		t.Fatalf("ticker during the outage %+v", m)
	}
	s.setDown(false)
	wantBook(t, bookMsg(c), schemas.TypeSnapshot, 3, 7)
	if m := ticker(); m.Status != "" || m.Reason != "" || m.Bid != "10.00" {
		t.Fatalf("ticker after the outage %+v", m)
	}
	s.feed(epochDelta(sym, 3, 8, 1767225600000002, `[["10.00","2"]]`, `[]`))
	wantBook(t, bookMsg(c), schemas.TypeUpdate, 3, 8)

	start = time.Now()
	wantStatus(t, bookMsg(c), schemas.ReasonSilent)
	if took := time.Since(start); took < 500*time.Millisecond {
		t.Errorf("silent after %v, bound 600ms", took)
	}
	s.feed(epochDelta(sym, 3, 9, 1767225600000003, `[["10.00","3"]]`, `[]`))
	m := bookMsg(c)
	wantBook(t, m, schemas.TypeSnapshot, 3, 9)
	if m.Bids[0] != [2]string{"10.00", "3.0000"} {
		t.Fatalf("snapshot after silence %+v", m)
	}
	if st := listed(t, s.hub, sym); st.State != "live" || st.Reason != "" {
		t.Fatalf("listed as %+v", st)
	}
}
