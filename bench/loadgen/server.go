package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/server"
)

// serverOptions are passed to the server, in the child process or in this
// one.
type serverOptions struct {
	brokers       string
	topic         string
	maxQueueBytes int
	queueFrames   int
	sndbuf        int
	lowat         int
	cpuprofile    string // file for a CPU profile of the measurement window
	listen        string // the server's address; empty: a free loopback port
}

func (o serverOptions) config() server.Config {
	listen := o.listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	return server.Config{
		Listen: listen,
		Feed:   feed.Config{Brokers: strings.Split(o.brokers, ","), Topic: o.topic, Start: feed.StartEarliest},
		WS: fanout.Config{MaxSubscriptions: 1000, Transport: wsconn.Config{
			MaxQueueBytes: o.maxQueueBytes, QueueFrames: o.queueFrames, SocketSendBuffer: o.sndbuf, SocketNotSentLowat: o.lowat,
		}},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// runServerRole is the child process: a marketfeed server that prints its
// address and runs until its standard input closes.
func runServerRole(o serverOptions) error {
	srv, err := server.New(o.config())
	if err != nil {
		return err
	}
	fmt.Printf("addr %s\n", srv.Addr())
	// SIGUSR1 collects garbage and returns free memory to the system, so
	// that the parent can read the memory that connections really hold.
	usr := make(chan os.Signal, 1)
	signal.Notify(usr, syscall.SIGUSR1)
	go func() {
		for range usr {
			runtime.GC()
			runtime.GC() // a second cycle shrinks stacks again
			debug.FreeOSMemory()
		}
	}()
	// SIGUSR2 starts the CPU profile (with -cpuprofile), a second one
	// stops it; it also stops when the server ends.
	prof := &profiler{file: o.cpuprofile}
	if o.cpuprofile != "" {
		usr2 := make(chan os.Signal, 1)
		signal.Notify(usr2, syscall.SIGUSR2)
		go func() {
			for range usr2 {
				if err := prof.toggle(); err != nil {
					fmt.Fprintln(os.Stderr, "loadgen: server: cpuprofile:", err)
				}
			}
		}()
	}
	defer prof.stop()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	return srv.Run(ctx)
}

// profiler writes one CPU profile to file, from its first toggle to its
// second (or to stop).
type profiler struct {
	mu   sync.Mutex
	file string
	f    *os.File
	done bool
}

func (p *profiler) toggle() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f != nil {
		return p.stopLocked()
	}
	if p.done || p.file == "" {
		return nil
	}
	f, err := os.Create(p.file)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	p.f = f
	return writeAllocs(p.file + ".allocs0")
}

// writeAllocs writes the allocation profile so far (every allocation since
// the process started) to file; the profiles at the start and the end of
// the window, compared (go tool pprof -diff_base), give what the window
// allocated.
func writeAllocs(file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (p *profiler) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.stopLocked()
}

func (p *profiler) stopLocked() error {
	if p.f == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := p.f.Close()
	p.f, p.done = nil, true
	return errors.Join(err, writeAllocs(p.file+".allocs1"))
}

// serverHandle is a running server: its address and process id.
type serverHandle struct {
	addr    string
	pid     int
	stop    func()
	profile func() // starts, then stops, the CPU profile (-cpuprofile); nil without
}

// startChild runs the server as a child process (this binary with
// -role=server), so that its CPU time and memory are its own.
func startChild(o serverOptions) (*serverHandle, error) {
	cmd := exec.Command(os.Args[0], "-role=server", "-brokers="+o.brokers, "-topic="+o.topic,
		"-max-queue-bytes="+strconv.Itoa(o.maxQueueBytes), "-queue-frames="+strconv.Itoa(o.queueFrames), "-socket-sndbuf="+strconv.Itoa(o.sndbuf), "-notsent-lowat="+strconv.Itoa(o.lowat),
		"-cpuprofile="+o.cpuprofile, "-listen="+o.listen)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "addr ")
	if err != nil || !ok {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("server child: %q %v", line, err)
	}
	h := &serverHandle{addr: addr, pid: cmd.Process.Pid}
	if o.cpuprofile != "" {
		h.profile = func() { _ = cmd.Process.Signal(syscall.SIGUSR2) }
	}
	h.stop = func() {
		_ = in.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	return h, nil
}

// collect asks the server child to collect garbage and return free memory
// to the system, and waits a little for it.
func (s *serverHandle) collect() {
	if s.pid == os.Getpid() {
		runtime.GC()
		runtime.GC()
		debug.FreeOSMemory()
		return
	}
	if p, err := os.FindProcess(s.pid); err == nil {
		_ = p.Signal(syscall.SIGUSR1)
	}
	time.Sleep(2 * time.Second)
}

// startInProcess runs the server in this process.
func startInProcess(o serverOptions) (*serverHandle, error) {
	srv, err := server.New(o.config())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Run(ctx); close(done) }()
	prof := &profiler{file: o.cpuprofile}
	h := &serverHandle{addr: srv.Addr(), pid: os.Getpid(), stop: func() { prof.stop(); cancel(); <-done }}
	if o.cpuprofile != "" {
		h.profile = func() {
			if err := prof.toggle(); err != nil {
				fmt.Fprintln(os.Stderr, "loadgen: cpuprofile:", err)
			}
		}
	}
	return h, nil
}

// liveSymbols returns how many symbols the server serves live.
func liveSymbols(addr string) int {
	resp, err := http.Get("http://" + addr + "/v1/symbols")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.Count(string(b), `"state":"live"`)
}

// serverMetric returns the sum of the server's metric lines that start
// with prefix (a name, optionally with labels).
func serverMetric(addr, prefix string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, prefix) {
			if i := strings.LastIndexByte(line, ' '); i > 0 {
				v, _ := strconv.ParseFloat(line[i+1:], 64)
				sum += v
			}
		}
	}
	return sum
}
