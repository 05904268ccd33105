package feed

import (
	"context"
	"testing"
	"time"
)

// ReadSince reads a partition back from the first record at or after a
// time, ReadFrom from an offset, each up to the end the partition had
// when it was called, in offset order, and fn can stop either.
func TestReadBack(t *testing.T) {
	c := newCluster(t, 1)
	addrs := c.ListenAddrs()
	t0 := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	produce(t, addrs, messages(0, 10, t0))
	produce(t, addrs, messages(10, 10, t0.Add(30*time.Second)))
	cons, err := NewConsumer(Config{Brokers: addrs, Topic: testTopic, DialTimeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	read := func(what string, get func(fn func(int64, []byte, []byte) bool) (int64, error)) (offs []int64, ns []int) {
		t.Helper()
		end, err := get(func(off int64, key, value []byte) bool {
			offs, ns = append(offs, off), append(ns, msgSeq(t, value))
			return len(ns) < 15
		})
		if err != nil || end != 20 {
			t.Fatalf("%s: end %d, %v", what, end, err)
		}
		return offs, ns
	}
	_, ns := read("since", func(fn func(int64, []byte, []byte) bool) (int64, error) {
		return cons.ReadSince(ctx, 0, t0.Add(time.Second), fn)
	})
	if len(ns) != 10 || ns[0] != 10 || ns[9] != 19 {
		t.Fatalf("since the second batch's time: %v", ns)
	}
	offs, ns := read("from", func(fn func(int64, []byte, []byte) bool) (int64, error) {
		return cons.ReadFrom(ctx, 0, 3, fn)
	})
	if len(ns) != 15 || offs[0] != 3 || ns[0] != 3 || ns[14] != 17 {
		t.Fatalf("from offset 3, stopped after 15: %v at %v", ns, offs)
	}
	if end, err := cons.ReadSince(ctx, 0, time.Now().Add(time.Hour), func(int64, []byte, []byte) bool {
		t.Fatal("a record from the future")
		return false
	}); err != nil || end != 20 {
		t.Fatalf("since the future: end %d, %v", end, err)
	}
}
