package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/marketfeed/marketfeed/auth"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config configures a Server.
type Config struct {
	// Listen is the HTTP address serving /ws and the other endpoints.
	// Empty means ":8080".
	Listen string
	// Feed configures the Kafka consumer; Brokers is required.
	Feed feed.Config
	// WS configures the WebSocket hub.
	WS fanout.Config
	// ShutdownTimeout bounds the graceful shutdown. Zero means 10s.
	ShutdownTimeout time.Duration
	// Registry receives the metrics. Nil means a new registry with the Go
	// and process collectors.
	Registry *prometheus.Registry
	// Logger, nil means slog.Default().
	Logger *slog.Logger
	// Keys is the path of the API key file (see package auth). Empty means
	// no keys: every client may connect and receive everything.
	Keys string
	// Origins is the browser Origin allow-list of the WebSocket upgrade
	// when Keys is set ("*" allows any). Empty allows non-browser clients
	// and same-host origins only.
	Origins []string
	// AnonymousPlan names the key file's plan for clients without a key,
	// instead of the file's "anonymous" field; "none" refuses them. Empty
	// means the file decides.
	AnonymousPlan string
	// KeysPoll is how often the key file is checked for changes. Zero
	// means 250ms.
	KeysPoll time.Duration
}

// Server is a running marketfeed.
type Server struct {
	cfg      Config
	log      *slog.Logger
	reg      *prometheus.Registry
	hub      *fanout.Hub
	consumer *feed.Consumer
	ingest   *feed.IngestMetrics
	ln       net.Listener
	http     *http.Server
	keys     *auth.Store // nil without a key file
}

// New builds a server and binds its listener, so Addr is known before Run.
func New(cfg Config) (*Server, error) {
	if cfg.Listen == "" {
		cfg.Listen = ":8080"
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if cfg.WS.Logger == nil {
		cfg.WS.Logger = cfg.Logger
	}
	if cfg.Feed.Logger == nil {
		cfg.Feed.Logger = cfg.Logger
	}
	var keys *auth.Store
	if cfg.Keys != "" {
		var err error
		if keys, err = auth.Open(cfg.Keys, auth.NewMetrics(reg), cfg.Logger); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		if cfg.AnonymousPlan != "" {
			if err := keys.SetAnonymous(cfg.AnonymousPlan); err != nil {
				return nil, fmt.Errorf("server: anonymous plan: %w", err)
			}
		}
		cfg.WS.Authorizer = auth.NewGate(keys, cfg.Origins)
	}
	hub, err := fanout.NewHub(cfg.WS, fanout.NewMetrics(reg))
	if err != nil {
		return nil, err
	}
	if keys != nil {
		keys.OnChange(hub.Recheck)
	}
	consumer, err := feed.NewConsumer(cfg.Feed, feed.NewMetrics(reg))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("server: listen on %s: %w", cfg.Listen, err)
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		reg:      reg,
		hub:      hub,
		consumer: consumer,
		ingest:   feed.NewIngestMetrics(reg),
		ln:       ln,
		keys:     keys,
	}
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	return s, nil
}

// Addr returns the address the HTTP listener is bound to.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Hub returns the WebSocket hub.
func (s *Server) Hub() *fanout.Hub { return s.hub }

// Keys returns the API key store, nil when the server runs without keys.
func (s *Server) Keys() *auth.Store { return s.keys }

// ReloadKeys reads the key file again (for SIGHUP) and applies it to the
// open connections. Without a key file it does nothing.
func (s *Server) ReloadKeys() error {
	if s.keys == nil {
		return nil
	}
	return s.keys.Reload()
}

// Ready reports whether every partition has caught up with the data it had
// at start and the broker answers.
func (s *Server) Ready() bool { return s.consumer.Ready() && s.consumer.Connected() }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/ws", s.hub)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ready, connected := s.consumer.Ready(), s.consumer.Connected()
		code := http.StatusOK
		if !ready || !connected {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]bool{"ready": ready && connected, "kafka_connected": connected, "bootstrapped": ready})
	})
	mux.HandleFunc("/v1/symbols", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.hub.Symbols())
	})
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Run consumes and serves until ctx ends, then stops accepting, closes every
// client with 1001, and returns within ShutdownTimeout.
func (s *Server) Run(ctx context.Context) error {
	feedCtx, stopFeed := context.WithCancel(context.WithoutCancel(ctx))
	defer stopFeed()
	var wg sync.WaitGroup
	feedErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		feedErr <- s.consumer.Run(feedCtx, func(ctx context.Context, partition int, in <-chan feed.Batch) {
			feed.NewShard(feed.ShardConfig{Hub: s.hub, Metrics: s.ingest, Logger: s.log}, partition).Run(ctx, in)
		})
	}()
	if s.keys != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.keys.Watch(feedCtx, s.cfg.KeysPoll)
		}()
	}
	httpErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := s.http.Serve(s.ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		httpErr <- err
	}()
	s.log.Info("serving", "addr", s.Addr(), "topic", s.cfg.Feed.Topic, "brokers", s.cfg.Feed.Brokers)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-feedErr:
	case runErr = <-httpErr:
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	_ = s.http.Shutdown(sctx) // stop accepting; hijacked WebSockets are the hub's
	if err := s.hub.Shutdown(sctx); err != nil {
		s.log.Warn("shutdown deadline reached with clients still connected", "err", err)
	}
	stopFeed()
	wg.Wait()
	return runErr
}
