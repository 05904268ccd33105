package producer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/segmentio/kafka-go"
)

// The zero Config fields take the documented defaults, and every Writer
// hashes keys, writes synchronously and does not compress.
func TestNewWriterDefaults(t *testing.T) {
	w, err := NewWriter(Config{Brokers: []string{"k1:9092", "k2:9092"}, Topic: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.Balancer.(*kafka.Hash); !ok {
		t.Errorf("balancer %T, want *kafka.Hash", w.Balancer)
	}
	if w.Addr.String() != "k1:9092,k2:9092" || w.Topic != "t" {
		t.Errorf("addr %q topic %q", w.Addr, w.Topic)
	}
	if w.BatchTimeout != 2*time.Millisecond || w.BatchSize != 100 || w.BatchBytes != 1<<20 {
		t.Errorf("batch %v %d %d", w.BatchTimeout, w.BatchSize, w.BatchBytes)
	}
	if w.RequiredAcks != kafka.RequireOne || w.Async || w.Compression != 0 || w.AllowAutoTopicCreation {
		t.Errorf("acks %v async %v compression %v autocreate %v", w.RequiredAcks, w.Async, w.Compression, w.AllowAutoTopicCreation)
	}
	if w.WriteTimeout != 10*time.Second || w.ReadTimeout != 10*time.Second || w.MaxAttempts != 10 || w.Transport != nil {
		t.Errorf("timeouts %v %v attempts %d transport %v", w.WriteTimeout, w.ReadTimeout, w.MaxAttempts, w.Transport)
	}
}

func TestNewWriterOverrides(t *testing.T) {
	tr := &kafka.Transport{}
	w, err := NewWriter(Config{Brokers: []string{"k:1"}, Topic: "t", BatchTimeout: time.Millisecond,
		BatchSize: 1000, BatchBytes: 16 << 20, RequiredAcks: kafka.RequireAll, AutoCreateTopic: true, Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	if w.BatchTimeout != time.Millisecond || w.BatchSize != 1000 || w.BatchBytes != 16<<20 ||
		w.RequiredAcks != kafka.RequireAll || !w.AllowAutoTopicCreation || w.Transport != tr {
		t.Errorf("%+v", w)
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want []string
	}{
		{Config{Topic: "t"}, []string{"Brokers"}},
		{Config{Brokers: []string{"nohost"}, Topic: "t"}, []string{"Brokers", `"nohost"`}},
		{Config{Brokers: []string{"k:1"}}, []string{"Topic"}},
		{Config{Brokers: []string{"k:1"}, Topic: "t", BatchTimeout: -1, BatchSize: -1, BatchBytes: -1},
			[]string{"BatchTimeout", "BatchSize", "BatchBytes"}},
		{Config{Brokers: []string{"k:1"}, Topic: "t", RequiredAcks: 2}, []string{"RequiredAcks"}},
	} {
		w, err := NewWriter(tt.cfg)
		if err == nil || w != nil || !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v, %v", tt.cfg, w, err)
			continue
		}
		for _, s := range tt.want {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%+v: %q does not mention %s", tt.cfg, err, s)
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("MustNewWriter accepted an invalid Config")
		}
	}()
	MustNewWriter(Config{})
}

// Records written through a Writer land by key: each key in one
// partition, in the order written.
func TestWriterKeepsKeysInOrderInOnePartition(t *testing.T) {
	b, err := broker.Start(broker.Config{Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	w := MustNewWriter(Config{Brokers: b.Addrs(), Topic: b.Topic()})
	defer w.Close()
	const keys, per = 12, 20
	var msgs []kafka.Message
	for i := range per {
		for k := range keys {
			msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "SYM%d", k), Value: fmt.Appendf(nil, "%d", i)})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	partOf := map[string]int{}
	next := map[string]int{}
	for p := range 3 {
		conn, err := kafka.DialLeader(ctx, "tcp", b.Addrs()[0], b.Topic(), p)
		if err != nil {
			t.Fatal(err)
		}
		last, err := conn.ReadLastOffset()
		if err != nil {
			t.Fatal(err)
		}
		for off := int64(0); off < last; off++ {
			m, err := conn.ReadMessage(1 << 20)
			if err != nil {
				t.Fatal(err)
			}
			k := string(m.Key)
			if q, seen := partOf[k]; seen && q != p {
				t.Fatalf("key %s in partitions %d and %d", k, q, p)
			}
			partOf[k] = p
			if got, want := string(m.Value), fmt.Sprint(next[k]); got != want {
				t.Fatalf("key %s: value %s, want %s", k, got, want)
			}
			next[k]++
		}
		conn.Close()
	}
	if len(next) != keys {
		t.Fatalf("%d keys read back, want %d", len(next), keys)
	}
	for k, n := range next {
		if n != per {
			t.Errorf("key %s: %d records, want %d", k, n, per)
		}
	}
}
