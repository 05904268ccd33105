package feed

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// dropConns makes the broker close the connection of the next n requests
// of kind key.
func dropConns(cl *kfake.Cluster, key kmsg.Key, n int64) *atomic.Int64 {
	var hits atomic.Int64
	cl.ControlKey(int16(key), func(kmsg.Request) (kmsg.Response, error, bool) {
		if hits.Add(1) > n {
			return nil, nil, false
		}
		cl.KeepControl()
		return nil, errors.New("connection dropped by test"), true
	})
	return &hits
}

// TestConsumerRecoversFromFaults injects broker errors while records flow;
// every record must still arrive exactly once and the reconnections must
// be counted.
func TestConsumerRecoversFromFaults(t *testing.T) {
	const parts = 4
	type faults struct {
		hits func() int // faults fired so far
		n    int        // faults installed
	}
	tests := []struct {
		name string
		// before installs the faults before the consumer starts.
		before bool
		// quiet holds production back until every fault fired, for
		// faults the producer would hit too (metadata).
		quiet  bool
		inject func(cl *kfake.Cluster) faults
	}{
		{"fetch not leader", false, false, func(cl *kfake.Cluster) faults {
			h := cl.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: testTopic, Err: kerr.NotLeaderForPartition, Count: 8})
			return faults{h.Hits, 8}
		}},
		{"fetch connection closed", false, false, func(cl *kfake.Cluster) faults {
			h := dropConns(cl, kmsg.Fetch, 8)
			return faults{func() int { return int(min(h.Load(), 8)) }, 8}
		}},
		{"fetch and metadata errors", false, true, func(cl *kfake.Cluster) faults {
			h1 := cl.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: testTopic, Err: kerr.LeaderNotAvailable, Count: 4})
			h2 := cl.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: testTopic, Err: kerr.LeaderNotAvailable, Count: 3})
			return faults{func() int { return h1.Hits() + h2.Hits() }, 7}
		}},
		{"startup offsets and metadata errors", true, true, func(cl *kfake.Cluster) faults {
			h1 := cl.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.ListOffsets}, Topic: testTopic, Err: kerr.NotLeaderForPartition, Count: 5})
			h2 := cl.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: testTopic, Err: kerr.UnknownTopicOrPartition, Count: 3})
			h3 := dropConns(cl, kmsg.ListOffsets, 2)
			return faults{func() int { return h1.Hits() + h2.Hits() + int(min(h3.Load(), 2)) }, 10}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := newCluster(t, parts)
			addrs := cl.ListenAddrs()
			pre := messages(0, 1000, time.Now())
			produce(t, addrs, pre)
			var f faults
			if tt.before {
				f = tt.inject(cl)
			}
			tc := startConsumer(t, Config{Brokers: addrs, Start: StartEarliest})
			tc.waitCaughtUp(t, parts)
			if !tt.before {
				f = tt.inject(cl)
			}
			if tt.quiet {
				waitFor(t, 10*time.Second, "every fault to fire", func() bool { return f.hits() >= f.n })
			}
			all := pre
			for range 4 {
				more := messages(len(all), 300, time.Now())
				produce(t, addrs, more)
				all = append(all, more...)
			}
			waitFor(t, 20*time.Second, "all records", func() bool { return tc.col.count() >= len(all) })
			waitFor(t, 10*time.Second, "every fault to fire", func() bool { return f.hits() >= f.n })
			waitFor(t, 10*time.Second, "Connected", tc.Connected)
			time.Sleep(50 * time.Millisecond)
			checkDelivery(t, all, tc.col.records())
			errs := sumVec(t, tc.m.fetchErrors, parts) + metricValue(t, tc.m.metadataErrors)
			recon := sumVec(t, tc.m.reconnects, parts)
			if errs < 1 || recon < 1 {
				t.Fatalf("%d faults fired but errors=%v reconnects=%v", f.hits(), errs, recon)
			}
			if resets := sumVec(t, tc.m.offsetResets, parts); resets != 0 {
				t.Fatalf("offset resets = %v", resets)
			}
		})
	}
}

// TestConsumerSurvivesBrokerRestart stops the broker and starts a new one
// on the same port and data directory: the consumer notices, reconnects
// and resumes where it was.
func TestConsumerSurvivesBrokerRestart(t *testing.T) {
	const parts = 4
	dir, port := t.TempDir(), freePort(t)
	opts := []kfake.Opt{kfake.Ports(port), kfake.DataDir(dir)}
	cl := newCluster(t, parts, opts...)
	addrs := cl.ListenAddrs()
	pre := messages(0, 1000, time.Now())
	produce(t, addrs, pre)

	tc := startConsumer(t, Config{Brokers: addrs, Start: StartEarliest, DialTimeout: time.Second})
	tc.waitCaughtUp(t, parts)
	waitFor(t, 5*time.Second, "Connected", tc.Connected)

	cl.Close()
	waitFor(t, 10*time.Second, "Connected to turn false", func() bool { return !tc.Connected() })
	recon := sumVec(t, tc.m.reconnects, parts)
	waitFor(t, 10*time.Second, "failed reconnections", func() bool { return sumVec(t, tc.m.reconnects, parts) >= recon+parts })
	if !tc.Ready() {
		t.Fatal("Ready turned false: catch-up is once per partition")
	}

	cl2 := newCluster(t, parts, opts...)
	if got := endOffsets(t, addrs[0], parts); sumOffsets(got) != int64(len(pre)) {
		t.Fatalf("restarted broker holds %d records, want %d", sumOffsets(got), len(pre))
	}
	waitFor(t, 20*time.Second, "Connected again", tc.Connected)
	more := messages(len(pre), 1000, time.Now())
	produce(t, cl2.ListenAddrs(), more)
	all := append(pre, more...)
	waitFor(t, 20*time.Second, "records after restart", func() bool { return tc.col.count() >= len(all) })
	time.Sleep(50 * time.Millisecond)
	checkDelivery(t, all, tc.col.records())
	if resets := sumVec(t, tc.m.offsetResets, parts); resets != 0 {
		t.Fatalf("offset resets = %v", resets)
	}
}

func sumOffsets(m map[int]int64) int64 {
	s := int64(0)
	for _, v := range m {
		s += v
	}
	return s
}

// TestConsumerPicksUpNewPartitions grows the topic while consuming.
func TestConsumerPicksUpNewPartitions(t *testing.T) {
	cl := newCluster(t, 2)
	addrs := cl.ListenAddrs()
	pre := messages(0, 400, time.Now())
	produce(t, addrs, pre)
	tc := startConsumer(t, Config{Brokers: addrs, Start: StartEarliest, PartitionRefresh: 50 * time.Millisecond})
	tc.waitCaughtUp(t, 2)

	client := &kafka.Client{Addr: kafka.TCP(addrs...)}
	resp, err := client.CreatePartitions(context.Background(), &kafka.CreatePartitionsRequest{
		Topics: []kafka.TopicPartitionsConfig{{Name: testTopic, Count: 4}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for topic, err := range resp.Errors {
		if err != nil {
			t.Fatalf("create partitions %s: %v", topic, err)
		}
	}
	waitFor(t, 10*time.Second, "four partitions", func() bool { return len(tc.Partitions()) == 4 })
	tc.waitCaughtUp(t, 4)
	more := messages(len(pre), 800, time.Now())
	produce(t, addrs, more)
	all := append(pre, more...)
	waitFor(t, 20*time.Second, "all records", func() bool { return tc.col.count() >= len(all) })
	time.Sleep(50 * time.Millisecond)
	got := tc.col.records()
	checkDelivery(t, all, got)
	if len(got[2]) == 0 && len(got[3]) == 0 {
		t.Fatal("no record from the added partitions")
	}
}

// TestConsumerNewPartitionFromItsStart: with Start latest, a partition
// added while the consumer runs is read from its first record, including
// records written before the consumer listed it.
func TestConsumerNewPartitionFromItsStart(t *testing.T) {
	cl := newCluster(t, 2)
	addrs := cl.ListenAddrs()
	produce(t, addrs, messages(0, 100, time.Now())) // before the start: not delivered
	tc := startConsumer(t, Config{Brokers: addrs, Start: StartLatest, PartitionRefresh: 500 * time.Millisecond})
	tc.waitCaughtUp(t, 2)
	client := &kafka.Client{Addr: kafka.TCP(addrs...)}
	resp, err := client.CreatePartitions(context.Background(), &kafka.CreatePartitionsRequest{
		Topics: []kafka.TopicPartitionsConfig{{Name: testTopic, Count: 4}},
	})
	if err != nil || resp.Errors[testTopic] != nil {
		t.Fatalf("create partitions: %v %v", err, resp.Errors)
	}
	more := messages(100, 800, time.Now())
	produce(t, addrs, more)
	if n := len(tc.Partitions()); n != 2 {
		t.Skipf("the consumer listed the new partitions before the records were written (%d partitions)", n)
	}
	waitFor(t, 10*time.Second, "four partitions", func() bool { return len(tc.Partitions()) == 4 })
	waitFor(t, 20*time.Second, "all records", func() bool { return tc.col.count() >= len(more) })
	time.Sleep(50 * time.Millisecond)
	got := tc.col.records()
	checkDelivery(t, more, got)
	if len(got[2]) == 0 && len(got[3]) == 0 {
		t.Fatal("no record from the added partitions")
	}
}

// TestConsumerOffsetOutOfRange restarts the broker without its data: the
// consumer's position is past the new log's end, so it moves to the end
// and delivers what is produced from then on.
func TestConsumerOffsetOutOfRange(t *testing.T) {
	const parts = 4
	port := freePort(t)
	cl := newCluster(t, parts, kfake.Ports(port))
	addrs := cl.ListenAddrs()
	produce(t, addrs, messages(0, 400, time.Now()))
	tc := startConsumer(t, Config{Brokers: addrs, Start: StartEarliest, DialTimeout: time.Second})
	tc.waitCaughtUp(t, parts)
	before := tc.col.records()

	cl.Close()
	waitFor(t, 10*time.Second, "Connected to turn false", func() bool { return !tc.Connected() })
	newCluster(t, parts, kfake.Ports(port))
	waitFor(t, 20*time.Second, "offset resets", func() bool { return sumVec(t, tc.m.offsetResets, parts) >= parts })
	waitFor(t, 10*time.Second, "Connected again", tc.Connected)

	after := messages(400, 400, time.Now())
	produce(t, addrs, after)
	waitFor(t, 20*time.Second, "records after the reset", func() bool { return tc.col.count() >= countRecords(before)+len(after) })
	time.Sleep(50 * time.Millisecond)
	got := tc.col.records()
	fresh := make(map[int][]Record)
	for p, rs := range got {
		fresh[p] = rs[len(before[p]):]
		if len(fresh[p]) > 0 && fresh[p][0].Offset != 0 {
			t.Fatalf("partition %d resumed at offset %d, want 0 (the new log's end)", p, fresh[p][0].Offset)
		}
	}
	checkDelivery(t, after, fresh)
}
