package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/demo"
	"github.com/marketfeed/marketfeed/internal/producer"
	"github.com/marketfeed/marketfeed/internal/sim"
	mkt "github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/server"
)

// balancer is a TCP forwarder standing for the address clients know (a
// load balancer): it sends each new connection to the current upstream
// server, and refuses connections while there is none (the server is
// down, or not ready yet).
type balancer struct {
	ln       net.Listener
	mu       sync.Mutex
	upstream string
}

func newBalancer(t *testing.T) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go b.forward(c)
		}
	}()
	return b
}

func (b *balancer) route(addr string) {
	b.mu.Lock()
	b.upstream = addr
	b.mu.Unlock()
}

func (b *balancer) forward(c net.Conn) {
	defer c.Close()
	b.mu.Lock()
	up := b.upstream
	b.mu.Unlock()
	if up == "" {
		return
	}
	s, err := net.Dial("tcp", up)
	if err != nil {
		return
	}
	defer s.Close()
	go func() {
		io.Copy(s, c)
		s.Close()
	}()
	io.Copy(c, s)
}

// resumeMarket is a broker, a synthetic exchange publishing into it, and
// the servers started on it one after another.
type resumeMarket struct {
	market
	broker *broker.Broker
	keys   string
}

func startResumeMarket(t *testing.T) *resumeMarket {
	t.Helper()
	b, err := broker.Start(broker.Config{Topic: "marketdata", Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	keys, key, err := demo.WriteKeyFile(t.TempDir(), 4)
	if err != nil {
		t.Fatal(err)
	}
	w := producer.MustNewWriter(producer.Config{Brokers: b.Addrs(), Topic: "marketdata"})
	t.Cleanup(func() { w.Close() })
	r := &resumeMarket{market: market{ex: sim.New(sim.Config{Symbols: 4, Seed: 5, Epoch: 1}), w: w, key: key}, broker: b, keys: keys}
	r.symbols = r.ex.Symbols()
	if err := r.produce(r.ex.Snapshots(time.Now(), nil)); err != nil {
		t.Fatal(err)
	}
	return r
}

// serve starts a server on the topic (reading it from the start) and
// waits until it has caught up and serves every symbol; stop shuts it
// down gracefully (a notice, then close 1001).
func (r *resumeMarket) serve(t *testing.T, history mkt.HistoryLimits) (srv *server.Server, stop func()) {
	t.Helper()
	srv, err := server.New(server.Config{
		Listen:          "127.0.0.1:0",
		Feed:            feed.Config{Brokers: r.broker.Addrs(), Topic: "marketdata", Start: feed.StartEarliest},
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		Keys:            r.keys,
		History:         history,
		ShutdownTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-runErr; err != nil {
				t.Errorf("server run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(20 * time.Second)
	for _, sym := range r.symbols {
		for {
			if tp := srv.Hub().Streams(sym); srv.Ready() && tp != nil {
				if st, _ := tp.State(); st == mkt.Live {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not live", sym)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return srv, stop
}

// nodeEvent is one line of web/testdata/resume.mjs.
type nodeEvent struct {
	Ev           string          `json:"ev"`
	Channel      string          `json:"channel"`
	State        string          `json:"state"`
	Detail       string          `json:"detail"`
	Type         string          `json:"type"`
	FirstSeq     string          `json:"first_seq"`
	Seq          string          `json:"seq"`
	BookSeq      string          `json:"bookSeq"`
	Epoch        int             `json:"epoch"`
	Bids         [][2]string     `json:"bids"`
	Asks         [][2]string     `json:"asks"`
	Resumed      bool            `json:"resumed"`
	ResumeReason string          `json:"resumeReason"`
	Why          string          `json:"why"`
	Code         string          `json:"code"`
	Cmd          json.RawMessage `json:"cmd"`
	Trades       []nodeTrade     `json:"trades"`
}

type nodeTrade struct {
	ID string `json:"id"`
	TS int64  `json:"ts"`
}

// nodeFeed runs web/testdata/resume.mjs and collects its events.
type nodeFeed struct {
	mu     sync.Mutex
	events []nodeEvent
	stdin  io.WriteCloser
	done   chan error
}

func startNodeFeed(t *testing.T, url, key string, subs [][2]any, options map[string]any) *nodeFeed {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	// WebSocket is global from Node.js 22 on, behind a flag in 20 and 21.
	var args []string
	for _, flags := range [][]string{{}, {"--experimental-websocket"}} {
		probe := append(append([]string(nil), flags...), "-e", `process.exit(typeof WebSocket === "function" ? 0 : 3)`)
		if exec.Command(node, probe...).Run() == nil {
			args = flags
			break
		}
	}
	if args == nil {
		t.Skip("this Node.js has no WebSocket (Node.js 20.10 or later needed)")
	}
	list, _ := json.Marshal(subs)
	opts, _ := json.Marshal(options)
	cmd := exec.Command(node, append(args, "testdata/resume.mjs", url, key, string(list), string(opts))...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	f := &nodeFeed{done: make(chan error, 1)}
	if f.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.stdin.Close()
		select {
		case <-f.done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-f.done
		}
	})
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	first := make(chan string, 1)
	go func() {
		for lines.Scan() {
			var e nodeEvent
			if err := json.Unmarshal(lines.Bytes(), &e); err != nil {
				continue
			}
			f.mu.Lock()
			f.events = append(f.events, e)
			f.mu.Unlock()
			select {
			case first <- e.Ev:
			default:
			}
		}
		f.done <- cmd.Wait()
	}()
	select {
	case ev := <-first:
		if ev == "no_websocket" {
			t.Skip("this Node.js has no WebSocket (Node.js 20.10 or later needed)")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no output from node")
	}
	return f
}

// snapshot returns a copy of the events so far.
func (f *nodeFeed) snapshot() []nodeEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]nodeEvent(nil), f.events...)
}

// wait polls the events until cond holds.
func (f *nodeFeed) wait(t *testing.T, what string, cond func([]nodeEvent) bool) []nodeEvent {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs := f.snapshot()
		if cond(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last events %v", what, tail(evs, 10))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(evs []nodeEvent, n int) []nodeEvent {
	if len(evs) > n {
		return evs[len(evs)-n:]
	}
	return evs
}

// count counts the events from index from on that match.
func count(evs []nodeEvent, from int, match func(nodeEvent) bool) int {
	n := 0
	for _, e := range evs[from:] {
		if match(e) {
			n++
		}
	}
	return n
}

// serverBookAt subscribes to channel at depth with a Go client and
// returns the book of its first snapshot.
func serverBookAt(t *testing.T, addr, channel, key string, depth int) *client.Book {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := client.Dial(ctx, "ws://"+addr+"/ws", client.Options{Header: http.Header{"X-Api-Key": {key}}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Subscribe(1, []string{channel}, depth, "raw"); err != nil {
		t.Fatal(err)
	}
	b := client.NewBook(channel)
	for !b.Synced() {
		msg, err := conn.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Apply(msg); err != nil && !errors.Is(err, client.ErrNotSynced) {
			t.Fatal(err)
		}
	}
	return b
}

// TestModuleResumes runs marketfeed.js under Node.js against a real
// server behind a balancer, on a live market: two books (raw depth 10,
// 100ms depth 20), a bbo, a ticker and a trades channel. The server shuts
// down mid-stream and, a moment later, a new one on the same topic takes
// the address once it has caught up: the feed reconnects by itself and
// resumes every channel, its books with no snapshot and no gap (every
// message's checksum verifies, none asks for a resync), the trades
// subscribe carrying the last trade received (this server starts trades
// anew, "resumed" absent). Then the server is down for longer than the
// next one's history window: the books are not resumed (resume_reason
// "history") and start again from a snapshot; and once more while the
// publisher restarts with a new epoch ("epoch", a snapshot of the new
// epoch). At the end each book equals the server's at the same seq.
func TestModuleResumes(t *testing.T) {
	r := startResumeMarket(t)
	srvA, stopA := r.serve(t, mkt.HistoryLimits{})
	lb := newBalancer(t)
	lb.route(srvA.Addr())
	r.srv = srvA
	r.run()
	s1, s2 := r.symbols[0], r.symbols[1]
	books := map[string]int{"book." + s1: 10, "book." + s2: 20}
	subs := [][2]any{
		{"book." + s1, map[string]any{"depth": 10, "interval": "raw"}},
		{"book." + s2, map[string]any{"depth": 20, "interval": "100ms"}},
		{"bbo." + s1, map[string]any{}},
		{"ticker." + s1, map[string]any{}},
		{"trades." + s1, map[string]any{}},
	}
	f := startNodeFeed(t, "ws://"+lb.ln.Addr().String()+"/ws", r.key, subs, nil)
	followed := followedFrom(books)
	f.wait(t, "books and trades on the first server", followed(0))

	// A restart: the server goes away, the next one takes the address.
	lb.route("")
	stopA()
	before := f.snapshot()
	time.Sleep(300 * time.Millisecond)
	srvB, stopB := r.serve(t, mkt.HistoryLimits{})
	lb.route(srvB.Addr())
	r.srv = srvB
	evs := f.wait(t, "every channel subscribed again", subscribedAgain(len(before), len(subs)))
	evs = f.wait(t, "books and trades on the restarted server", followed(len(evs)))
	checkResumed(t, before, evs, books, "trades."+s1)

	// A long disconnect: the next server's history no longer covers it.
	lb.route("")
	stopB()
	time.Sleep(2500 * time.Millisecond)
	srvC, stopC := r.serve(t, mkt.HistoryLimits{Window: time.Second})
	r.srv = srvC
	startedAgain(t, f, lb, srvC, books, len(subs), "history", 1)

	// A new epoch while the client is away: the publisher restarted and
	// numbers its events anew.
	r.pause(t)
	lb.route("")
	stopC()
	r.ex = sim.New(sim.Config{Symbols: 4, Seed: 5, Epoch: 2})
	if err := r.produce(r.ex.Snapshots(time.Now(), nil)); err != nil {
		t.Fatal(err)
	}
	srvD, _ := r.serve(t, mkt.HistoryLimits{})
	r.srv = srvD
	r.run()
	startedAgain(t, f, lb, srvD, books, len(subs), "epoch", 2)
	checkFinalBooks(t, r, f, books)
}

// startedAgain routes the balancer to srv and checks that the feed
// subscribes every channel again there, that the server does not resume
// its books (for reason), and that each book starts again from a snapshot
// of epoch.
func startedAgain(t *testing.T, f *nodeFeed, lb *balancer, srv *server.Server, books map[string]int, subs int, reason string, epoch int) {
	t.Helper()
	before := f.snapshot()
	lb.route(srv.Addr())
	evs := f.wait(t, "every channel subscribed again ("+reason+")", subscribedAgain(len(before), subs))
	for ch := range books {
		if e := lastSubscribed(evs[len(before):], ch); e.Resumed || e.ResumeReason != reason {
			t.Errorf("%s: resumed %v, reason %q; want not resumed, %s", ch, e.Resumed, e.ResumeReason, reason)
		}
	}
	f.wait(t, "a snapshot of each book ("+reason+")", func(evs []nodeEvent) bool {
		for ch := range books {
			if count(evs, len(before), func(e nodeEvent) bool {
				return e.Ev == "book" && e.Channel == ch && e.Type == "snapshot" && e.State == "synced" && e.Epoch == epoch
			}) == 0 {
				return false
			}
		}
		return true
	})
}

// followedFrom reports whether, from index from on, the feed applied
// three verified messages of each book and received trades.
func followedFrom(books map[string]int) func(from int) func([]nodeEvent) bool {
	return func(from int) func([]nodeEvent) bool {
		return func(evs []nodeEvent) bool {
			for ch := range books {
				if count(evs, from, func(e nodeEvent) bool { return e.Ev == "book" && e.Channel == ch && e.State == "synced" }) < 3 {
					return false
				}
			}
			return count(evs, from, func(e nodeEvent) bool { return e.Ev == "trades" }) > 0
		}
	}
}

// TestModuleResumesOnAnotherReplica gives a MarketFeed two servers of one
// topic (option urls): it follows its channels on the first; when the
// first shuts down it reconnects to the second and resumes there, with
// no snapshot and no gap, and its books end equal to the second's.
func TestModuleResumesOnAnotherReplica(t *testing.T) {
	r := startResumeMarket(t)
	srvA, stopA := r.serve(t, mkt.HistoryLimits{})
	srvB, _ := r.serve(t, mkt.HistoryLimits{})
	r.srv = srvA
	r.run()
	s1 := r.symbols[2]
	books := map[string]int{"book." + s1: 50}
	subs := [][2]any{
		{"book." + s1, map[string]any{"depth": 50, "interval": "raw"}},
		{"ticker." + s1, map[string]any{"interval": "1s"}},
		{"trades." + s1, map[string]any{}},
	}
	f := startNodeFeed(t, "ws://"+srvA.Addr()+"/ws", r.key, subs, map[string]any{"urls": []string{"ws://" + srvB.Addr() + "/ws"}})
	followed := followedFrom(books)
	f.wait(t, "the channels on the first server", followed(0))
	before := f.snapshot()
	stopA()
	r.srv = srvB
	evs := f.wait(t, "every channel subscribed on the second server", subscribedAgain(len(before), len(subs)))
	evs = f.wait(t, "books and trades on the second server", followed(len(evs)))
	checkResumed(t, before, evs, books, "trades."+s1)
	if e := lastOf(evs, func(e nodeEvent) bool { return e.Ev == "state" && e.State == "connecting" }); e.Detail != "connecting to ws://"+srvB.Addr()+"/ws" {
		t.Errorf("last connection attempt %q, want one to the second server", e.Detail)
	}
	checkFinalBooks(t, r, f, books)
}

// subscribedAgain reports whether n subscribed events came after index from.
func subscribedAgain(from, n int) func([]nodeEvent) bool {
	return func(evs []nodeEvent) bool {
		return count(evs, from, func(e nodeEvent) bool { return e.Ev == "subscribed" }) >= n
	}
}

func lastSubscribed(evs []nodeEvent, ch string) nodeEvent {
	var last nodeEvent
	for _, e := range evs {
		if e.Ev == "subscribed" && e.Channel == ch {
			last = e
		}
	}
	return last
}

// checkResumed checks the reconnection from before (the events up to the
// disconnection) to evs: the subscribes carried each channel's position,
// every book, bbo and ticker channel resumed, and each book continued
// from its last seq with no snapshot.
func checkResumed(t *testing.T, before, evs []nodeEvent, books map[string]int, trades string) {
	t.Helper()
	sent := map[string]json.RawMessage{}
	for _, e := range evs[len(before):] {
		if e.Ev != "sent" {
			continue
		}
		var cmd struct {
			Op     string                     `json:"op"`
			Resume map[string]json.RawMessage `json:"resume"`
		}
		if err := json.Unmarshal(e.Cmd, &cmd); err == nil && cmd.Op == "subscribe" {
			for ch, p := range cmd.Resume {
				sent[ch] = p
			}
		}
	}
	for ch := range books {
		last := lastBook(before, ch)
		var pos struct {
			Epoch uint64 `json:"epoch"`
			Seq   uint64 `json:"seq"`
		}
		if err := json.Unmarshal(sent[ch], &pos); err != nil || strconv.FormatUint(pos.Seq, 10) != last.BookSeq {
			t.Errorf("%s: resume position %s, want the seq %s of the last message", ch, sent[ch], last.BookSeq)
		}
		if e := lastSubscribed(evs[len(before):], ch); !e.Resumed {
			t.Errorf("%s: not resumed (%q)", ch, e.ResumeReason)
		}
		after := evs[len(before):]
		if n := count(after, 0, func(e nodeEvent) bool { return e.Ev == "book" && e.Channel == ch && e.Type == "snapshot" }); n != 0 {
			t.Errorf("%s: %d snapshots after resuming", ch, n)
		}
		if first := firstBook(after, ch); first.Ev != "" && first.FirstSeq != strconv.FormatUint(pos.Seq+1, 10) {
			t.Errorf("%s: first update after the resume covers %s..%s, want first_seq %d", ch, first.FirstSeq, first.Seq, pos.Seq+1)
		}
	}
	var tp nodeTrade
	lastTrades := lastOf(before, func(e nodeEvent) bool { return e.Ev == "trades" && e.Channel == trades })
	if err := json.Unmarshal(sent[trades], &struct {
		ID *string `json:"trade_id"`
		TS *int64  `json:"ts"`
	}{&tp.ID, &tp.TS}); err != nil || len(lastTrades.Trades) == 0 || tp != lastTrades.Trades[len(lastTrades.Trades)-1] {
		t.Errorf("%s: resume position %s, want the last trade received %v", trades, sent[trades], lastTrades.Trades)
	}
	if e := lastSubscribed(evs[len(before):], trades); !e.Resumed {
		t.Errorf("%s: not resumed (%q)", trades, e.ResumeReason)
	}
	// The exchange numbers a symbol's trades one by one: the trades the
	// feed delivered, before and after the resume, are each once, in order,
	// none lost.
	var ids []int64
	for _, e := range evs {
		if e.Ev != "trades" || e.Channel != trades {
			continue
		}
		for _, tr := range e.Trades {
			id, err := strconv.ParseInt(tr.ID, 10, 64)
			if err != nil {
				t.Fatalf("%s: trade id %q", trades, tr.ID)
			}
			if len(ids) > 0 && ids[len(ids)-1] != id-1 {
				t.Errorf("%s: trade %d after %d across the resume", trades, id, ids[len(ids)-1])
			}
			ids = append(ids, id)
		}
	}
	if n := count(evs[len(before):], 0, func(e nodeEvent) bool { return e.Ev == "trades" && e.Channel == trades }); n == 0 {
		t.Errorf("%s: no trades after the resume", trades)
	}
	for _, e := range evs {
		if e.Ev == "resync" || e.Ev == "error" {
			t.Errorf("feed reported %s %s %s", e.Ev, e.Why, e.Code)
		}
		if e.Ev == "subscribed" && len(sent) > 0 && !lastSubscribed(evs[len(before):], e.Channel).Resumed {
			t.Errorf("%s not resumed", e.Channel)
		}
	}
}

func lastOf(evs []nodeEvent, match func(nodeEvent) bool) nodeEvent {
	for i := len(evs) - 1; i >= 0; i-- {
		if match(evs[i]) {
			return evs[i]
		}
	}
	return nodeEvent{}
}

func lastBook(evs []nodeEvent, ch string) nodeEvent {
	return lastOf(evs, func(e nodeEvent) bool { return e.Ev == "book" && e.Channel == ch && e.State == "synced" })
}

func firstBook(evs []nodeEvent, ch string) nodeEvent {
	for _, e := range evs {
		if e.Ev == "book" && e.Channel == ch {
			return e
		}
	}
	return nodeEvent{}
}

// checkFinalBooks pauses the market and checks each book of the feed,
// once at the final seq, against the server's book.
func checkFinalBooks(t *testing.T, r *resumeMarket, f *nodeFeed, books map[string]int) {
	t.Helper()
	final := r.pause(t)
	for ch, depth := range books {
		want := serverBookAt(t, r.srv.Addr(), ch, r.key, depth)
		seq := strconv.FormatUint(final[ch[len("book."):]], 10)
		if got := strconv.FormatUint(want.Seq(), 10); got != seq {
			t.Fatalf("%s: server at seq %s, want %s", ch, got, seq)
		}
		evs := f.wait(t, ch+" at seq "+seq, func(evs []nodeEvent) bool { return lastBook(evs, ch).BookSeq == seq })
		got := lastBook(evs, ch)
		if !reflect.DeepEqual(got.Bids, want.Bids()) || !reflect.DeepEqual(got.Asks, want.Asks()) {
			t.Errorf("%s at seq %s: feed's book %v / %v, server's %v / %v", ch, seq, got.Bids, got.Asks, want.Bids(), want.Asks())
		}
		n := count(evs, 0, func(e nodeEvent) bool { return e.Ev == "book" && e.Channel == ch && e.State == "synced" })
		t.Logf("%s: %d verified messages, equal to the server's book at seq %s", ch, n, seq)
	}
}

// TestModuleResumeState runs web/testdata/resume_units.mjs under Node.js:
// the state marketfeed.js keeps for a resume (a book kept across a
// reconnection, the positions of each channel kind, the answers), and
// commands that carry seqs above 2^53 exactly.
func TestModuleResumeState(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	out, err := exec.Command(node, "testdata/resume_units.mjs").CombinedOutput()
	if err != nil {
		t.Fatalf("resume state of marketfeed.js: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), " checks, 0 failures") {
		t.Fatalf("unexpected output:\n%s", out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
}
