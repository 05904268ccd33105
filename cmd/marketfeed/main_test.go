package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/internal/syncbuf"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// buildBinary compiles marketfeed into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "marketfeed")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestSIGTERMClosesClientsWith1001: a running binary that receives SIGTERM
// sends its clients a close frame with 1001, records where its partitions
// stood, and exits 0 within the shutdown deadline.
func TestSIGTERMClosesClientsWith1001(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	b, err := broker.Start(broker.Config{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// A market in the topic, which the server reads from the start.
	boot := sim.New(sim.Config{Symbols: 3, Seed: 1}).Snapshots(time.Now(), nil)
	w := &kafka.Writer{Addr: kafka.TCP(b.Addrs()...), Topic: b.Topic(), RequiredAcks: kafka.RequireOne, BatchTimeout: time.Millisecond}
	msgs := make([]kafka.Message, len(boot))
	for i, m := range boot {
		msgs[i] = kafka.Message{Key: m.Key, Value: m.Value}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = w.WriteMessages(ctx, msgs...)
	cancel()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "serve", "-listen", addr, "-kafka.brokers", b.Addrs()[0], "-kafka.start", "earliest",
		"-shutdown_timeout", "5s", "-log.level", "info")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() { _ = cmd.Process.Kill() }()

	var nc net.Conn
	var br *bufio.Reader
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		nc, br, _, err = ws.Dial(ctx, "ws://"+addr+"/ws")
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer nc.Close()
	if br == nil {
		br = bufio.NewReader(nc)
	}
	if f, err := ws.ReadFrame(br); err != nil || !strings.Contains(string(f.Payload), `"welcome"`) {
		t.Fatalf("welcome: %v %q", err, f.Payload)
	}
	for !allLive(t, addr, 3) {
		if time.Now().After(deadline) {
			t.Fatal("books not live")
		}
		time.Sleep(50 * time.Millisecond)
	}

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		f, err := ws.ReadFrame(br)
		if err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		if f.Header.OpCode == ws.OpClose {
			code, reason := ws.ParseCloseFrameData(f.Payload)
			if code != ws.StatusGoingAway {
				t.Fatalf("close %d %q, want 1001", code, reason)
			}
			break
		}
	}
	_ = ws.WriteFrame(nc, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusGoingAway, ""))))
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after SIGTERM")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown took %v, deadline 5s", d)
	}
	want := fmt.Sprintf(`msg="feed position at shutdown" topic=marketdata partition=0 next_offset=%d`, len(msgs))
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, stderr.String())
	}
}

// allLive reports whether the server at addr lists n symbols, all live.
func allLive(t *testing.T, addr string, n int) bool {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/v1/symbols")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var syms []struct{ State string }
	if err := json.NewDecoder(resp.Body).Decode(&syms); err != nil {
		return false
	}
	live := 0
	for _, s := range syms {
		if s.State == "live" {
			live++
		}
	}
	return live == n
}

// TestSimulateRetriesWriteErrors: `marketfeed simulate` keeps running
// while the broker refuses its writes, says so on stderr, and publishes
// again once the broker accepts them.
func TestSimulateRetriesWriteErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	b, err := broker.Start(broker.Config{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cmd := exec.Command(bin, "simulate", "-brokers", b.Addrs()[0], "-topic", b.Topic(), "-symbols", "3", "-rate", "100")
	stderr := &syncbuf.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{}) // closed once the process has exited, with waitErr set
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-exited
	}()
	written := func() int64 { return b.Cluster().PartitionInfo(b.Topic(), 0).HighWatermark }
	waitWritten := func(what string, above int64) int64 {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			if n := written(); n > above {
				return n
			}
			select {
			case <-exited:
				t.Fatalf("simulate exited (%v) waiting for %s; stderr:\n%s", waitErr, what, stderr.String())
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("no records %s; stderr:\n%s", what, stderr.String())
			}
		}
	}
	waitWritten("at start", 0)
	// Every produce request is refused with an error the writer does not
	// retry by itself, for two seconds.
	h := b.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.InvalidRecord, Count: -1})
	time.Sleep(2 * time.Second)
	select {
	case <-exited:
		t.Fatalf("simulate exited at a write error (%v); stderr:\n%s", waitErr, stderr.String())
	default:
	}
	h.Remove()
	before := written()
	waitWritten("after the broker accepts writes again", before)
	if !strings.Contains(stderr.String(), "retrying in") {
		t.Errorf("no retry reported on stderr:\n%s", stderr.String())
	}
}
