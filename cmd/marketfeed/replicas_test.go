package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/producer"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/internal/syncbuf"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/segmentio/kafka-go"
)

// The replica tests run several marketfeed serve processes on one topic.
// By default the topic lives in an embedded broker; with
// MARKETFEED_KAFKA_BROKERS set they use that cluster instead, on a fresh
// topic of their own.

const replicaPartitions = 4

// sharedTopic returns the bootstrap brokers and a topic of
// replicaPartitions partitions for one test.
func sharedTopic(t *testing.T) ([]string, string) {
	t.Helper()
	if env := os.Getenv("MARKETFEED_KAFKA_BROKERS"); env != "" {
		brokers := strings.Split(env, ",")
		topic := fmt.Sprintf("replicas-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
		cl := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 30 * time.Second}
		resp, err := cl.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{
			Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: replicaPartitions, ReplicationFactor: 1}},
		})
		if err != nil {
			t.Fatalf("create topic on %s: %v", env, err)
		}
		if err := resp.Errors[topic]; err != nil {
			t.Fatalf("create topic %s: %v", topic, err)
		}
		t.Cleanup(func() {
			_, _ = cl.DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: []string{topic}})
		})
		return brokers, topic
	}
	b, err := broker.Start(broker.Config{Partitions: replicaPartitions})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.Addrs(), b.Topic()
}

// publish runs the synthetic exchange into topic until the test ends.
func publish(t *testing.T, brokers []string, topic string, symbols int) *sim.Exchange {
	t.Helper()
	ex := sim.New(sim.Config{Symbols: symbols, Seed: 7})
	w := producer.MustNewWriter(producer.Config{Brokers: brokers, Topic: topic, RequiredAcks: kafka.RequireAll})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ex.Publish(ctx, w, sim.PublishConfig{Rate: 300, SnapshotEvery: time.Second})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("publisher: %v", err)
		}
		w.Close()
	})
	return ex
}

// replica is one marketfeed serve process.
type replica struct {
	name        string
	addr, admin string
	cmd         *exec.Cmd
	stderr      *syncbuf.Buffer
	exited      chan struct{} // closed when the process has exited
	exitErr     error         // its exit status, once exited is closed
}

// startReplica starts bin serve on the topic with extra flags.
func startReplica(t *testing.T, bin, name string, brokers []string, topic string, extra ...string) *replica {
	t.Helper()
	r := &replica{name: name, addr: freeAddr(t), admin: freeAddr(t), stderr: &syncbuf.Buffer{}, exited: make(chan struct{})}
	args := append([]string{"serve", "-listen", r.addr, "-admin_listen", r.admin,
		"-kafka.brokers", strings.Join(brokers, ","), "-kafka.topic", topic, "-kafka.start", "earliest",
		"-shutdown_timeout", "5s", "-log.level", "info"}, extra...)
	r.cmd = exec.Command(bin, args...)
	r.cmd.Stderr = r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.exitErr = r.cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.exited
		if t.Failed() {
			t.Logf("%s log:\n%s", r.name, r.stderr.String())
		}
	})
	return r
}

// waitReady waits until /readyz answers 200 and n symbols are live.
func (r *replica) waitReady(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + r.admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && len(r.liveSymbols(t)) == n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready with %d live symbols (has %v)", r.name, n, r.liveSymbols(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// liveSymbols returns the symbols /v1/symbols lists as live.
func (r *replica) liveSymbols(t *testing.T) []string {
	t.Helper()
	resp, err := http.Get("http://" + r.addr + "/v1/symbols")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var syms []struct{ Symbol, State string }
	if err := json.NewDecoder(resp.Body).Decode(&syms); err != nil {
		return nil
	}
	var live []string
	for _, s := range syms {
		if s.State == "live" {
			live = append(live, s.Symbol)
		}
	}
	return live
}

// bookMsg is one book message as received, with its decoded fields.
type bookMsg struct {
	raw []byte
	msg *schemas.ServerMessage
}

// recorder subscribes to channels on one replica and keeps every book
// message, verifying each channel with a client.Book as it goes.
type recorder struct {
	mu   sync.Mutex
	msgs map[string][]bookMsg
	err  error
	done chan struct{}
}

func record(t *testing.T, addr string, channels []string, depth int) (*recorder, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := client.Dial(ctx, "ws://"+addr+"/ws", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Subscribe(1, channels, depth, "raw"); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{msgs: map[string][]bookMsg{}, done: make(chan struct{})}
	books := map[string]*client.Book{}
	for _, ch := range channels {
		books[ch] = client.NewBook(ch)
	}
	go func() {
		defer close(rec.done)
		for {
			raw, err := conn.NextRaw(ctx)
			if err != nil {
				if ctx.Err() == nil {
					rec.setErr(err)
				}
				return
			}
			m := new(schemas.ServerMessage)
			if err := json.Unmarshal(raw, m); err != nil {
				rec.setErr(err)
				return
			}
			switch m.Type {
			case schemas.TypeSnapshot, schemas.TypeUpdate:
				if err := books[m.Channel].Apply(m); err != nil {
					rec.setErr(fmt.Errorf("%s: %w", addr, err))
				}
				rec.mu.Lock()
				rec.msgs[m.Channel] = append(rec.msgs[m.Channel], bookMsg{raw: raw, msg: m})
				rec.mu.Unlock()
			case schemas.TypeError, schemas.TypeStatus:
				rec.setErr(fmt.Errorf("%s: unexpected %s", addr, raw))
			}
		}
	}()
	return rec, func() {
		cancel()
		conn.Close()
		<-rec.done
	}
}

func (rec *recorder) setErr(err error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.err == nil {
		rec.err = err
	}
}

// updates returns the update messages of channel after the first one
// following the snapshot the subscription began with: from there on, a
// stream's messages depend only on the exchange's events. (The first
// update's first_seq reaches back to the last event that changed the view
// before the subscription, which depends on when the stream was created.)
func (rec *recorder) updates(channel string) []bookMsg {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []bookMsg
	seenFirst := false
	for _, m := range rec.msgs[channel] {
		if m.msg.Type != schemas.TypeUpdate {
			continue
		}
		if !seenFirst {
			seenFirst = true
			continue
		}
		out = append(out, m)
	}
	return out
}

// checksums maps every seq of channel's book messages to the checksum
// the replica sent with it.
func (rec *recorder) checksums(channel string) map[uint64]uint32 {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := map[uint64]uint32{}
	for _, m := range rec.msgs[channel] {
		if m.msg.Checksum != nil {
			out[m.msg.Seq] = *m.msg.Checksum
		}
	}
	return out
}

// TestReplicasServeIdenticalStreams runs three marketfeed processes on one
// topic. Each reads every partition, so the same subscription gets the same
// bytes from each: the exchange's seqs and the checksums of the same views.
// A client behind a load balancer that moves it from one replica to another
// when the first shuts down keeps a verified book that agrees with the other
// replicas at every seq.
func TestReplicasServeIdenticalStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three servers")
	}
	bin := buildBinary(t)
	brokers, topic := sharedTopic(t)
	const symbols = 6
	ex := publish(t, brokers, topic, symbols)
	names := ex.Symbols()
	var reps []*replica
	for i := range 3 {
		reps = append(reps, startReplica(t, bin, fmt.Sprintf("replica-%d", i), brokers, topic))
	}
	for _, r := range reps {
		r.waitReady(t, symbols)
	}

	// The same subscriptions on every replica, and a client on a
	// balancer in front of replica 0, later of replica 1.
	channels := []string{"book." + names[0], "book." + names[1], "book." + names[2]}
	var recs []*recorder
	for _, r := range reps {
		rec, stop := record(t, r.addr, channels, 10)
		defer stop()
		recs = append(recs, rec)
	}
	lb := startBalancer(t, reps[0].addr)
	moved := startMovingClient(t, "ws://"+lb.addr()+"/ws", channels[:2])

	time.Sleep(2 * time.Second)
	// The balancer takes replica 0 out of rotation, then replica 0 shuts
	// down: its notice sends the client through the balancer to replica 1.
	lb.setBackend(reps[1].addr)
	movedAt := moved.lastSeqs()
	if err := reps[0].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reps[0].exited:
		if err := reps[0].exitErr; err != nil {
			t.Fatalf("replica 0 exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("replica 0 still running 10 s after SIGTERM")
	}
	waitUntil(t, 10*time.Second, "the client to continue on replica 1", func() bool {
		now := moved.lastSeqs()
		for _, ch := range channels[:2] {
			if now[ch] <= movedAt[ch]+5 || moved.connections() < 2 {
				return false
			}
		}
		return true
	})
	time.Sleep(time.Second)
	moved.stop()

	// Identical streams: over the time all three replicas were serving,
	// every update after each stream's first is byte for byte the same.
	for i, rec := range recs {
		if rec.err != nil && i != 0 { // replica 0 closed its connection
			t.Fatalf("replica %d stream: %v", i, rec.err)
		}
	}
	compared := 0
	for _, ch := range channels {
		streams := make([][]bookMsg, len(recs))
		for i, rec := range recs {
			streams[i] = rec.updates(ch)
		}
		compared += compareStreams(t, ch, streams)
	}
	t.Logf("%d updates compared byte for byte across the replicas", compared)
	if compared < 50 {
		t.Fatalf("only %d updates compared across replicas; the market is too slow for the test", compared)
	}

	// The moved client: no gap, no checksum failure; every book message
	// it got, from either replica, carries the checksum replica 2 sent at
	// that seq; and it got messages from both replicas.
	moved.check(t, recs[2], movedAt)
}

// compareStreams checks that the update streams of one channel from
// several replicas are identical where they overlap: the same seqs in the
// same order, each byte-identical. It returns the number of updates
// compared.
func compareStreams(t *testing.T, channel string, streams [][]bookMsg) int {
	t.Helper()
	// The window every replica covers: from the latest first seq to the
	// earliest last seq.
	var lo, hi uint64 = 0, ^uint64(0)
	for i, s := range streams {
		if len(s) == 0 {
			t.Fatalf("%s: replica %d sent no update", channel, i)
		}
		lo = max(lo, s[0].msg.Seq)
		hi = min(hi, s[len(s)-1].msg.Seq)
	}
	if lo >= hi {
		t.Fatalf("%s: the replicas' streams do not overlap", channel)
	}
	window := func(s []bookMsg) []bookMsg {
		var out []bookMsg
		for _, m := range s {
			if m.msg.Seq >= lo && m.msg.Seq <= hi {
				out = append(out, m)
			}
		}
		return out
	}
	ref := window(streams[0])
	for i := 1; i < len(streams); i++ {
		got := window(streams[i])
		if len(got) != len(ref) {
			t.Fatalf("%s seq %d..%d: replica %d sent %d updates, replica 0 %d", channel, lo, hi, i, len(got), len(ref))
		}
		for k := range ref {
			if !bytes.Equal(got[k].raw, ref[k].raw) {
				t.Fatalf("%s: update %d differs between replicas 0 and %d:\n%s\n%s", channel, k, i, ref[k].raw, got[k].raw)
			}
		}
	}
	return len(ref) * (len(streams) - 1)
}

// balancer is a TCP load balancer of one backend at a time, as a
// balancer without sticky sessions sees a pool from which a replica is
// removed: new connections go to the current backend, open ones stay
// where they are.
type balancer struct {
	ln      net.Listener
	backend atomic.Pointer[string]
}

func startBalancer(t *testing.T, backend string) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lb := &balancer{ln: ln}
	lb.setBackend(backend)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go lb.forward(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return lb
}

func (lb *balancer) addr() string           { return lb.ln.Addr().String() }
func (lb *balancer) setBackend(addr string) { lb.backend.Store(&addr) }

func (lb *balancer) forward(c net.Conn) {
	defer c.Close()
	b, err := net.Dial("tcp", *lb.backend.Load())
	if err != nil {
		return
	}
	defer b.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(b, c); b.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, b); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
}

// movingClient is a client.Stream keeping verified books.
type movingClient struct {
	mu      sync.Mutex
	seqs    map[string]uint64
	seen    []bookSeen // every book message applied, in order
	conns   int
	notices int
	resyncs []error
	cancel  context.CancelFunc
	done    chan error
}

type bookSeen struct {
	channel  string
	conn     int // 1 for the first connection, 2 for the next...
	seq      uint64
	checksum uint32
	synced   bool
}

func startMovingClient(t *testing.T, url string, channels []string) *movingClient {
	t.Helper()
	var subs []client.Subscription
	for _, ch := range channels {
		subs = append(subs, client.Subscription{Channel: ch, Depth: 10, Interval: "raw"})
	}
	s, err := client.NewStream(client.StreamConfig{URL: url, Subscriptions: subs, RetryMin: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	mc := &movingClient{seqs: map[string]uint64{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		mc.done <- s.Run(ctx, func(ev *client.Event) error {
			mc.mu.Lock()
			defer mc.mu.Unlock()
			switch ev.Kind {
			case client.EventConnected:
				mc.conns++
			case client.EventNotice:
				mc.notices++
			case client.EventResync:
				mc.resyncs = append(mc.resyncs, ev.Err)
			case client.EventBook:
				mc.seqs[ev.Channel] = ev.Book.Seq()
				mc.seen = append(mc.seen, bookSeen{channel: ev.Channel, conn: mc.conns, seq: ev.Msg.Seq,
					checksum: ev.Book.Checksum(), synced: ev.Book.Synced()})
			}
			return nil
		})
	}()
	t.Cleanup(mc.stop)
	return mc
}

func (mc *movingClient) stop() {
	if mc.cancel != nil {
		mc.cancel()
		<-mc.done
		mc.cancel = nil
	}
}

func (mc *movingClient) lastSeqs() map[string]uint64 {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	return maps.Clone(mc.seqs)
}

func (mc *movingClient) connections() int {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	return mc.conns
}

// check verifies what the moved client saw against observer, a replica
// that served throughout.
func (mc *movingClient) check(t *testing.T, observer *recorder, movedAt map[string]uint64) {
	t.Helper()
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if len(mc.resyncs) > 0 {
		t.Fatalf("the client lost continuity %d times: %v", len(mc.resyncs), mc.resyncs)
	}
	if mc.notices < 1 || mc.conns != 2 {
		t.Fatalf("%d notices, %d connections; want the shutdown notice and one move", mc.notices, mc.conns)
	}
	perConn := map[int]int{}
	checks := map[string]map[uint64]uint32{}
	for _, s := range mc.seen {
		if !s.synced {
			t.Fatalf("%s seq %d: book not synced after a book message", s.channel, s.seq)
		}
		if checks[s.channel] == nil {
			checks[s.channel] = observer.checksums(s.channel)
		}
		want, ok := checks[s.channel][s.seq]
		if !ok {
			continue // a seq whose update did not touch the observer's stream window
		}
		if s.checksum != want {
			t.Fatalf("%s seq %d (connection %d): checksum %d, replica 2 sent %d", s.channel, s.seq, s.conn, s.checksum, want)
		}
		perConn[s.conn]++
	}
	t.Logf("moved client: book messages matching replica 2 per connection: %v", perConn)
	if perConn[1] == 0 || perConn[2] == 0 {
		t.Fatalf("book messages matched with replica 2 per connection: %v; want some on both replicas", perConn)
	}
	// The move does not go back in time by more than replica 1 may lag
	// replica 0: a few events (50 is a sixth of a second of this market).
	for ch, seq := range movedAt {
		first := slices.IndexFunc(mc.seen, func(s bookSeen) bool { return s.conn == 2 && s.channel == ch })
		if first < 0 {
			t.Fatalf("%s: nothing on the second connection", ch)
		}
		if got := mc.seen[first].seq; got+50 < seq {
			t.Fatalf("%s: resumed at seq %d on replica 1, had %d on replica 0", ch, got, seq)
		}
	}
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestShardedReplicas splits the topic between two processes with
// kafka.partitions: each serves exactly the symbols the publisher's
// partitioner put in its partitions, answers unknown_symbol for the others,
// and a process configured with a partition the topic lacks never becomes
// ready.
func TestShardedReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three servers")
	}
	bin := buildBinary(t)
	brokers, topic := sharedTopic(t)
	const symbols = 12
	ex := publish(t, brokers, topic, symbols)
	shards := [][]int{{0, 1}, {2, 3}}
	want := make([][]string, len(shards)) // symbols of each shard, by the publisher's partitioner
	parts := make([]int, replicaPartitions)
	for i := range parts {
		parts[i] = i
	}
	for _, sym := range ex.Symbols() {
		p := (&kafka.Hash{}).Balance(kafka.Message{Key: []byte(sym)}, parts...)
		for i, sh := range shards {
			if slices.Contains(sh, p) {
				want[i] = append(want[i], sym)
			}
		}
	}
	var reps []*replica
	for i, sh := range shards {
		list := fmt.Sprint(sh[0], ",", sh[1])
		reps = append(reps, startReplica(t, bin, "shard-"+list, brokers, topic, "-kafka.partitions", list))
		if len(want[i]) == 0 {
			t.Fatalf("no symbol in partitions %v; choose more symbols", sh)
		}
	}
	holey := startReplica(t, bin, "holey", brokers, topic, "-kafka.partitions", "0,"+fmt.Sprint(replicaPartitions))
	for i, r := range reps {
		r.waitReady(t, len(want[i]))
		slices.Sort(want[i])
		if got := r.liveSymbols(t); !slices.Equal(got, want[i]) {
			t.Fatalf("%s serves %v, want %v", r.name, got, want[i])
		}
	}
	for i, r := range reps {
		other := want[1-i][0]
		conn, err := client.Dial(context.Background(), "ws://"+r.addr+"/ws", client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.Subscribe(1, []string{"book." + want[i][0], "book." + other}, 10, "raw"); err != nil {
			t.Fatal(err)
		}
		book := client.NewBook("book." + want[i][0])
		refused, updates := false, 0
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for !refused || updates < 3 {
			m, err := conn.Next(ctx)
			if err != nil {
				t.Fatalf("%s: refused %v, %d updates: %v", r.name, refused, updates, err)
			}
			switch {
			case m.Type == schemas.TypeError && m.Channel == "book."+other:
				if m.Code != schemas.CodeUnknownSymbol {
					t.Fatalf("%s: %s of another shard refused with %q, want unknown_symbol", r.name, other, m.Code)
				}
				refused = true
			case m.Type == schemas.TypeError:
				t.Fatalf("%s: unexpected error %+v", r.name, m)
			case m.Channel == book.Channel():
				if err := book.Apply(m); err != nil {
					t.Fatalf("%s: %v", r.name, err)
				}
				if m.Type == schemas.TypeUpdate {
					updates++
				}
			}
		}
		cancel()
		conn.Close()
	}
	resp, err := http.Get("http://" + holey.admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a server configured with partition %d of a %d-partition topic answers /readyz %d", replicaPartitions, replicaPartitions, resp.StatusCode)
	}
	if log := holey.stderr.String(); !strings.Contains(log, "configured partitions are not in the topic") {
		t.Fatalf("the missing partition is not logged:\n%s", log)
	}
}
