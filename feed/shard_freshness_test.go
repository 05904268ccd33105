package feed

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kfake"
)

// newTestShard returns a shard that is not running: the test applies
// records and checks freshness itself, with its own clock.
func newTestShard(t *testing.T, cfg ShardConfig) *Shard {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return NewShard(cfg, 0)
}

func (s *Shard) applyf(format string, args ...any) {
	s.Apply(nil, fmt.Appendf(nil, format, args...))
}

func served(s *Shard, sym string) (string, string, uint64, uint64) {
	st := s.symbols[sym].Published()
	return st.State.String(), st.Reason, st.Epoch, st.Seq
}

// A publisher that restarts with epochs: the new epoch's snapshot, at a
// lower seq, replaces the book at once; its deltas follow; the old
// epoch's records are rejected as old_epoch.
func TestShardEpochReplacesBook(t *testing.T) {
	s := newTestShard(t, ShardConfig{})
	s.applyf(`{"type":"instrument","symbol":"A","ts":1,"price_scale":0,"size_scale":0}`)
	s.applyf(`{"type":"snapshot","symbol":"A","ts":2,"epoch":100,"seq":500,"bids":[["10","1"]],"asks":[["12","1"]]}`)
	s.applyf(`{"type":"delta","symbol":"A","ts":3,"epoch":100,"seq":501,"bids":[["10","2"]]}`)
	s.applyf(`{"type":"snapshot","symbol":"A","ts":4,"epoch":200,"seq":3,"bids":[["9","1"]],"asks":[["12","1"]]}`)
	if st, reason, epoch, seq := served(s, "A"); st != "live" || reason != "" || epoch != 200 || seq != 3 {
		t.Fatalf("after the new epoch's snapshot: %s %q epoch %d seq %d", st, reason, epoch, seq)
	}
	s.applyf(`{"type":"delta","symbol":"A","ts":5,"epoch":200,"seq":4,"bids":[["9","3"]]}`)
	s.applyf(`{"type":"delta","symbol":"A","ts":6,"epoch":100,"seq":502,"bids":[["10","3"]]}`)
	s.applyf(`{"type":"snapshot","symbol":"A","ts":6,"epoch":100,"seq":502,"bids":[["10","3"]],"asks":[]}`)
	b := s.symbols["A"].Book()
	if l, _ := b.Best(0); l.Price != 9 || l.Size != 3 || s.symbols["A"].Seq() != 4 {
		t.Fatalf("book best bid %+v seq %d, want 9x3 at seq 4", l, s.symbols["A"].Seq())
	}
	if n := testutil.ToFloat64(s.m.Rejected.WithLabelValues(market.ReasonOldEpoch)); n != 2 {
		t.Errorf("old_epoch rejections %v, want 2", n)
	}
}

// A publisher without epochs that restarts numbering lower freezes the
// book (its deltas are seq_backwards, its snapshots stale_snapshot): the
// book is then announced stale (silent) once SilentAfter has passed
// without an accepted record, instead of staying live.
func TestShardRestartWithoutEpochGoesSilent(t *testing.T) {
	s := newTestShard(t, ShardConfig{SilentAfter: 10 * time.Second})
	now := time.Unix(1767225600, 0)
	s.applyf(`{"type":"instrument","symbol":"A","ts":1,"price_scale":0,"size_scale":0}`)
	s.applyf(`{"type":"snapshot","symbol":"A","ts":2,"seq":500,"bids":[["10","1"]],"asks":[["12","1"]]}`)
	s.CheckFreshness(now)
	for i := range 30 {
		s.applyf(`{"type":"delta","symbol":"A","ts":%d,"seq":%d,"bids":[["10","%d"]]}`, 10+i, 1+i, 2+i)
		if i%10 == 9 {
			s.applyf(`{"type":"snapshot","symbol":"A","ts":%d,"seq":%d,"bids":[["10","%d"]],"asks":[["12","1"]]}`, 10+i, 1+i, 2+i)
		}
		now = now.Add(time.Second)
		s.CheckFreshness(now)
	}
	if st, reason, _, _ := served(s, "A"); st != "stale" || reason != schemas.ReasonSilent {
		t.Fatalf("frozen book served as %s %q, want stale silent", st, reason)
	}
	if n := testutil.ToFloat64(s.m.Rejected.WithLabelValues(market.ReasonSeqBackwards)); n != 30 {
		t.Errorf("seq_backwards %v, want 30", n)
	}
}

// The feed-down check follows LastFetch: stale feed_down beyond the bound,
// live again (a fresh snapshot) when fetches resume; silence is measured
// from the recovery.
func TestShardFeedDown(t *testing.T) {
	var last time.Time // no fetch yet: the bound counts from the start
	s := newTestShard(t, ShardConfig{LastFetch: func() time.Time { return last }, SilentAfter: 5 * time.Second})
	now := time.Now()
	s.CheckFreshness(now.Add(DefaultFeedDownAfter / 2))
	if s.feedDown {
		t.Fatal("feed down before the bound passed since the start")
	}
	last = now
	s.applyf(`{"type":"instrument","symbol":"A","ts":1,"price_scale":0,"size_scale":0}`)
	s.applyf(`{"type":"snapshot","symbol":"A","ts":2,"seq":5,"bids":[["10","1"]],"asks":[["12","1"]]}`)
	s.CheckFreshness(now)
	now = now.Add(DefaultFeedDownAfter)
	s.CheckFreshness(now)
	if st, _, _, _ := served(s, "A"); st != "live" {
		t.Fatalf("at the bound: %s", st)
	}
	now = now.Add(100 * time.Millisecond)
	s.CheckFreshness(now)
	if st, reason, _, _ := served(s, "A"); st != "stale" || reason != schemas.ReasonFeedDown {
		t.Fatalf("beyond the bound: %s %q", st, reason)
	}
	now = now.Add(30 * time.Second) // long outage: no silent while down
	last = now
	s.CheckFreshness(now)
	if st, reason, _, seq := served(s, "A"); st != "live" || reason != "" || seq != 5 {
		t.Fatalf("after recovery: %s %q seq %d", st, reason, seq)
	}
	now = now.Add(4 * time.Second)
	last = now
	s.CheckFreshness(now)
	if st, _, _, _ := served(s, "A"); st != "live" {
		t.Fatalf("4s after recovery: %s, want live (silence counts from the recovery)", st)
	}
}

// LastFetch follows the broker: recent (within a few MaxWait) while an
// idle partition is healthy, frozen while the broker is gone, recent again
// once it is back.
func TestConsumerLastFetch(t *testing.T) {
	const parts = 2
	dir, port := t.TempDir(), freePort(t)
	opts := []kfake.Opt{kfake.Ports(port), kfake.DataDir(dir)}
	cl := newCluster(t, parts, opts...)
	addrs := cl.ListenAddrs()
	produce(t, addrs, messages(0, 10, time.Now()))
	tc := startConsumer(t, Config{Brokers: addrs, Start: StartEarliest, DialTimeout: time.Second})
	if !tc.LastFetch(0).IsZero() || !tc.LastFetch(99).IsZero() {
		t.Fatal("LastFetch before any fetch, or of an unknown partition, is not zero")
	}
	tc.waitCaughtUp(t, parts)
	fresh := func() bool {
		for p := range parts {
			if time.Since(tc.LastFetch(p)) > 500*time.Millisecond {
				return false
			}
		}
		return true
	}
	waitFor(t, 5*time.Second, "recent fetches", fresh)
	time.Sleep(300 * time.Millisecond) // idle: fetches keep answering
	if !fresh() {
		t.Fatalf("idle partitions: last fetches %v, %v ago", time.Since(tc.LastFetch(0)), time.Since(tc.LastFetch(1)))
	}
	cl.Close()
	gone := time.Now()
	waitFor(t, 5*time.Second, "fetches to stop", func() bool { return tc.LastFetch(0).Before(gone) && time.Since(tc.LastFetch(0)) > time.Second })
	newCluster(t, parts, opts...)
	waitFor(t, 15*time.Second, "fetches again", fresh)
}
