package fanout

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// The broadcast benchmarks put their subscribers' client ends in a child
// process (this test binary, re-executed as a sink), so that 10,000
// subscribers fit in the per-process open-file limit and the client side's
// work does not count in the server's allocations.

const (
	sinkEnv         = "MARKETFEED_BENCH_SINK"          // "url n command"
	sinkProtocolEnv = "MARKETFEED_BENCH_SINK_PROTOCOL" // subprotocol to offer, if any
)

func TestMain(m *testing.M) {
	if v := os.Getenv(sinkEnv); v != "" {
		os.Exit(runSink(v))
	}
	os.Exit(m.Run())
}

// runSink dials n WebSocket connections (wss: TLS) to url from source addresses spread
// over 127.0.0.1-127.0.0.250, sends command on each, prints "ready", and
// reads and discards everything until its standard input closes.
func runSink(v string) int {
	var url, command string
	var n int
	if _, err := fmt.Sscanf(v, "%s %d %q", &url, &n, &command); err != nil {
		fmt.Fprintln(os.Stderr, "sink:", err)
		return 2
	}
	var failed atomic.Int64
	for i := range n {
		d := ws.Dialer{NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%250))}}
			return nd.DialContext(ctx, network, addr)
		}, TLSConfig: &tls.Config{InsecureSkipVerify: true}} // the test server's own certificate
		if p := os.Getenv(sinkProtocolEnv); p != "" {
			d.Protocols = []string{p}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		nc, br, _, err := d.Dial(ctx, url)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "sink: dial:", err)
			return 1
		}
		if err := wsutil.WriteClientMessage(nc, ws.OpText, []byte(command)); err != nil {
			fmt.Fprintln(os.Stderr, "sink: subscribe:", err)
			return 1
		}
		go func() {
			buf := make([]byte, 4096)
			if br != nil {
				for br.Buffered() > 0 {
					_, _ = br.Read(buf)
				}
				ws.PutReader(br)
			}
			for {
				if _, err := nc.Read(buf); err != nil {
					failed.Add(1)
					return
				}
			}
		}()
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	return 0
}

// sink is a running sink process.
type sink struct {
	cmd   *exec.Cmd
	stdin interface{ Close() error }
}

// startSink starts a sink of n connections that send command, offering
// the subprotocol protocol[0] if given.
func startSink(tb testing.TB, url string, n int, command string, protocol ...string) *sink {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), sinkEnv+"="+url+" "+strconv.Itoa(n)+" "+strconv.Quote(command))
	if len(protocol) > 0 {
		cmd.Env = append(cmd.Env, sinkProtocolEnv+"="+protocol[0])
	}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		tb.Fatalf("sink did not start: %q %v", line, err)
	}
	return &sink{cmd: cmd, stdin: in}
}

func (s *sink) stop() {
	_ = s.stdin.Close()
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}
