package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"sync"
	"time"

	"github.com/marketfeed/marketfeed/auth"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/marketfeed/marketfeed/web"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config configures a Server.
type Config struct {
	// Listen is the HTTP address serving /ws (and the admin endpoints
	// unless AdminListen is set). Empty means ":8080".
	Listen string
	// AdminListen, when set, serves /metrics, /healthz, /readyz and (with
	// Pprof) /debug/pprof on their own listener, apart from client
	// traffic. Empty means they share Listen.
	AdminListen string
	// Pprof serves /debug/pprof on the admin endpoints. Default off.
	Pprof bool
	// HTTP bounds the HTTP side of each listener (timeouts, connections
	// in total and per client address), apart from WebSocket connections
	// once upgraded. Every listener has its own count: a flood of the
	// public listener leaves AdminListen reachable, which makes a separate
	// AdminListen the production setting.
	HTTP HTTPLimits
	// TLSCertFile and TLSKeyFile, both set, make Listen serve wss:// and
	// https://. Default: plain TCP.
	TLSCertFile, TLSKeyFile string
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
	// and pages from PublicHosts only.
	Origins []string
	// PublicHosts are the host names (host, any port, or host:port) under
	// which browsers reach the server; with Origins empty, pages from them
	// may connect (auth.Gate.PublicHosts). Empty: none.
	PublicHosts []string
	// AnonymousPlan names the key file's plan for clients without a key,
	// instead of the file's "anonymous" field; "none" refuses them. Empty
	// means the file decides.
	AnonymousPlan string
	// KeysPoll is how often the key file is checked for changes. Zero
	// means 250ms.
	KeysPoll time.Duration
	// FeedDownAfter is how long a partition may go unfetched before its
	// books are announced stale with reason feed_down. Zero means
	// feed.DefaultFeedDownAfter (2s).
	FeedDownAfter time.Duration
	// RESTBurst and RESTEvery rate-limit the REST endpoints per caller
	// (an API key, or a client address for anonymous callers): RESTBurst
	// requests at once, then one per RESTEvery. Zero means
	// auth.DefaultRequestBurst (20) and auth.DefaultRequestEvery (50ms).
	RESTBurst int
	// RESTEvery: see RESTBurst.
	RESTEvery time.Duration
	// SilentAfter is how long a served book may go without a snapshot or
	// delta before it is announced stale with reason silent; set it above
	// the publisher's snapshot period. Zero means feed.DefaultSilentAfter
	// (30s); negative disables the check.
	SilentAfter time.Duration
	// History bounds each symbol's book history, from which subscribers
	// resume; the zero value means market's defaults (60s, 1 MiB).
	History market.HistoryLimits
	// TradeHistory bounds each symbol's recent trades, from which trades
	// streams resume and GET /v1/trades answers (defaults: 5m and 1 MiB,
	// market.DefaultTradeWindow and DefaultTradeMaxBytes).
	TradeHistory market.TradeHistoryConfig
}

// Server is a running marketfeed.
type Server struct {
	cfg      Config
	log      *slog.Logger
	reg      *prometheus.Registry
	hub      *fanout.Hub
	consumer *feed.Consumer
	ingest   *feed.IngestMetrics
	trades   *feed.TradeHistoryMetrics // the symbols' trade histories
	ln       net.Listener
	http     *http.Server
	adminLn  net.Listener
	admin    *http.Server
	keys     *auth.Store // nil without a key file
	gate     *auth.Gate  // nil without a key file
	// restLimit rate-limits the REST endpoints per caller.
	restLimit *auth.RequestLimiter

	shardsMu sync.Mutex
	shards   map[int]*feed.Shard // by partition; the latest shard of each
}

// New builds a server and binds its listener, so Addr is known before Run.
// The flow it wires: the Consumer's partitions each feed a Shard (Run),
// which applies the records to its symbols' market state and tells a
// Group of the hub, which delivers to the WebSocket clients.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	keys, gate, err := openKeys(&cfg, reg)
	if err != nil {
		return nil, err
	}
	consumer, err := feed.NewConsumer(cfg.Feed, feed.NewMetrics(reg))
	if err != nil {
		return nil, err
	}
	// A trades resume older than the history reads the log back, within
	// the window the consumer's look-back keeps.
	cfg.WS.TradeLog = consumer
	if cfg.WS.TradeLogWindow == 0 {
		cfg.WS.TradeLogWindow = cmp.Or(cfg.Feed.Lookback, feed.DefaultLookback)
	}
	hub, err := fanout.NewHub(cfg.WS, fanout.NewMetrics(reg))
	if err != nil {
		return nil, err
	}
	if keys != nil {
		keys.OnChange(hub.Recheck)
	}
	hm := newHTTPMetrics(reg)
	ln, ll, err := listen(cfg.Listen, cfg.TLSCertFile, cfg.TLSKeyFile, cfg.HTTP, hm)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		reg:       reg,
		hub:       hub,
		consumer:  consumer,
		ingest:    feed.NewIngestMetrics(reg),
		trades:    feed.NewTradeHistoryMetrics(reg),
		ln:        ln,
		keys:      keys,
		gate:      gate,
		restLimit: &auth.RequestLimiter{Burst: cfg.RESTBurst, Every: cfg.RESTEvery},
		shards:    map[int]*feed.Shard{},
	}
	reg.MustRegister(s.bookStates())
	if err := s.routes(ll, hm); err != nil {
		ln.Close()
		return nil, err
	}
	return s, nil
}

// withDefaults returns cfg with its defaults applied.
func (cfg Config) withDefaults() Config {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.HTTP = cfg.HTTP.withDefaults()
	if cfg.WS.Logger == nil {
		cfg.WS.Logger = cfg.Logger
	}
	if cfg.Feed.Logger == nil {
		cfg.Feed.Logger = cfg.Logger
	}
	return cfg
}

// openKeys opens the key file of cfg, if any, and makes its gate the
// hub's authorizer (and the REST endpoints'); nil without a key file.
func openKeys(cfg *Config, reg *prometheus.Registry) (*auth.Store, *auth.Gate, error) {
	if cfg.Keys == "" {
		return nil, nil, nil
	}
	keys, err := auth.Open(cfg.Keys, auth.NewMetrics(reg), cfg.Logger)
	if err != nil {
		return nil, nil, fmt.Errorf("server: %w", err)
	}
	if cfg.AnonymousPlan != "" {
		if err := keys.SetAnonymous(cfg.AnonymousPlan); err != nil {
			return nil, nil, fmt.Errorf("server: anonymous plan: %w", err)
		}
	}
	gate := auth.NewGate(keys, cfg.Origins)
	gate.PublicHosts = cfg.PublicHosts
	cfg.WS.Authorizer = gate
	return keys, gate, nil
}

// routes builds the HTTP servers: client traffic on the listener ll, the
// admin endpoints beside it or on AdminListen.
func (s *Server) routes(ll *limitListener, hm *httpMetrics) error {
	mux := http.NewServeMux()
	mux.Handle("/ws", s.hub)
	for pattern, h := range s.apiRoutes() {
		mux.HandleFunc(pattern, h)
	}
	mux.Handle("/", web.Handler())
	if s.cfg.AdminListen == "" {
		s.adminRoutes(mux)
	} else {
		aln, err := net.Listen("tcp", s.cfg.AdminListen)
		if err != nil {
			return fmt.Errorf("server: admin listen on %s: %w", s.cfg.AdminListen, err)
		}
		all := limit(aln, s.cfg.HTTP, false, hm, "admin")
		s.adminLn = all
		amux := http.NewServeMux()
		s.adminRoutes(amux)
		s.admin = httpServer(amux, s.cfg.HTTP, all)
	}
	s.http = httpServer(mux, s.cfg.HTTP, ll)
	return nil
}

// listen binds addr, with TLS when both files are given, counting its
// HTTP connections (below TLS, so that the count sees every accepted
// socket) with lim's limits.
func listen(addr, certFile, keyFile string, lim HTTPLimits, m *httpMetrics) (net.Listener, *limitListener, error) {
	var tlsCfg *tls.Config
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("server: TLS certificate: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	raw, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("server: listen on %s: %w", addr, err)
	}
	ll := limit(raw, lim, tlsCfg != nil, m, "public")
	if tlsCfg != nil {
		return tls.NewListener(ll, tlsCfg), ll, nil
	}
	return ll, ll, nil
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

// AdminAddr returns the admin listener's address, or Addr when the admin
// endpoints share the main listener.
func (s *Server) AdminAddr() string {
	if s.adminLn != nil {
		return s.adminLn.Addr().String()
	}
	return s.Addr()
}

func (s *Server) adminRoutes(mux *http.ServeMux) {
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
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	if s.cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
}

// bookStates exposes how many books are live, waiting or stale, and why
// the stale ones are: the states of /v1/symbols and of status messages.
func (s *Server) bookStates() prometheus.Collector {
	return &bookStateCollector{hub: s.hub,
		desc: prometheus.NewDesc(
			"marketfeed_books", "Books by state: live (served), waiting (no snapshot yet), stale (not served; see marketfeed_books_stale).",
			[]string{"state"}, nil),
		stale: prometheus.NewDesc(
			"marketfeed_books_stale", "Stale books by reason: gap, feed_down, silent, crossed.",
			[]string{"reason"}, nil),
	}
}

type bookStateCollector struct {
	hub         *fanout.Hub
	desc, stale *prometheus.Desc
}

func (c *bookStateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc; ch <- c.stale }

func (c *bookStateCollector) Collect(ch chan<- prometheus.Metric) {
	counts := map[string]int{"live": 0, "waiting": 0, "stale": 0}
	reasons := map[string]int{schemas.ReasonGap: 0, schemas.ReasonFeedDown: 0, schemas.ReasonSilent: 0, schemas.ReasonCrossed: 0}
	for _, st := range c.hub.Symbols() {
		counts[st.State]++
		if st.Reason != "" {
			reasons[st.Reason]++
		}
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), state)
	}
	for reason, n := range reasons {
		ch <- prometheus.MustNewConstMetric(c.stale, prometheus.GaugeValue, float64(n), reason)
	}
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
		feedErr <- s.consumer.Run(feedCtx, s.runShard)
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
	if s.admin != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.admin.Serve(s.adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("admin listener failed", "err", err)
			}
		}()
	}
	s.log.Info("serving", "addr", s.Addr(), "admin", s.AdminAddr(), "topic", s.cfg.Feed.Topic, "brokers", s.cfg.Feed.Brokers)

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
	if s.admin != nil {
		_ = s.admin.Shutdown(sctx)
	}
	wg.Wait()
	s.logPositions()
	return runErr
}

// runShard is the handler of one partition: a Shard that applies its
// records to the market state of its symbols and tells a Group of the
// hub, which delivers to the clients.
func (s *Server) runShard(ctx context.Context, partition int, in <-chan feed.Batch) {
	sh := feed.NewShard(feed.ShardConfig{
		Listener: s.hub.NewGroup(), Metrics: s.ingest, Logger: s.log,
		LastFetch:     func() time.Time { return s.consumer.LastFetch(partition) },
		FeedDownAfter: s.cfg.FeedDownAfter,
		SilentAfter:   s.cfg.SilentAfter,
		History:       s.cfg.History,
		Trades:        s.cfg.TradeHistory,
		TradeHistory:  s.trades,
	}, partition)
	s.shardsMu.Lock()
	s.shards[partition] = sh
	s.shardsMu.Unlock()
	sh.Run(ctx, in)
}

// logPositions records, at shutdown, the offset of the next record each
// partition would have applied: where the books stood when the server
// stopped. (A restart does not resume from them: it rebuilds its books
// from the look-back window.)
func (s *Server) logPositions() {
	s.shardsMu.Lock()
	defer s.shardsMu.Unlock()
	parts := make([]int, 0, len(s.shards))
	for p := range s.shards {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	for _, p := range parts {
		s.log.Info("feed position at shutdown", "topic", s.cfg.Feed.Topic, "partition", p, "next_offset", s.shards[p].Position())
	}
}
