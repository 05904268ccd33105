package fanout

import (
	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the fan-out layer's Prometheus collectors. Labels are bounded:
// reasons and codes are fixed sets, never per connection or per key.
type Metrics struct {
	Connections      prometheus.Gauge
	ConnectionsTotal prometheus.Counter
	Subscriptions    prometheus.Gauge
	MessagesSent     prometheus.Counter
	BytesSent        prometheus.Counter
	Disconnects      *prometheus.CounterVec // label: reason
	ClientErrors     *prometheus.CounterVec // label: code
	Rejected         *prometheus.CounterVec // label: reason; upgrades refused
	LagSnapshots     prometheus.Counter     // conflations: skip-aheads of lagging connections (lag.go)
	Resyncs          prometheus.Counter     // resync commands accepted
	// Resumes counts subscribes that gave a resume position, by channel
	// kind (book, bbo, ticker, tickers, trades) and result ("resumed",
	// or the schemas.ResumeReasons value of a refusal).
	Resumes *prometheus.CounterVec
	// DeliveryLatency is the time from the exchange timestamp of a book
	// update or trades message to the end of the socket write that carried
	// it, sampled once per write (the oldest such frame queued since the
	// connection's previous sample; the streams hand the time with the
	// frame, wsconn.Conn.SendAt).
	DeliveryLatency prometheus.Histogram
	// WriteBatch is the number of frames per socket write: the depth of a
	// connection's queue when its writer drained it.
	WriteBatch prometheus.Histogram
}

// NewMetrics creates the collectors and registers them with reg; a nil reg
// leaves them unregistered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "marketfeed_ws_connections", Help: "Open WebSocket connections.",
		}),
		ConnectionsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "marketfeed_ws_connections_total", Help: "WebSocket connections accepted.",
		}),
		Subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "marketfeed_ws_subscriptions", Help: "Active subscriptions over all connections.",
		}),
		MessagesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "marketfeed_ws_messages_sent_total", Help: "Frames written to clients.",
		}),
		BytesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "marketfeed_ws_bytes_sent_total", Help: "Bytes written to clients.",
		}),
		Disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "marketfeed_ws_disconnects_total", Help: "Closed connections by reason.",
		}, []string{"reason"}),
		ClientErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "marketfeed_ws_client_errors_total", Help: "Error replies sent to clients by code.",
		}, []string{"code"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "marketfeed_ws_rejected_total", Help: "Connection attempts refused before the upgrade, by reason.",
		}, []string{"reason"}),
		Resyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "marketfeed_ws_resyncs_total", Help: "Resync commands accepted (fresh snapshots of one subscription).",
		}),
		Resumes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "marketfeed_ws_resumes_total", Help: "Subscribes with a resume position, by channel kind and result: resumed, or why not (history, epoch, ahead, not_served).",
		}, []string{"kind", "result"}),
		DeliveryLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "marketfeed_ws_delivery_latency_seconds",
			Help: "Exchange timestamp to socket write of book updates and trades (one sample per write; throttled streams add up to their interval).",
			// 0.25 ms to about 8 s.
			Buckets: prometheus.ExponentialBuckets(0.00025, 2, 16),
		}),
		WriteBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "marketfeed_ws_queue_depth_frames",
			Help:    "Frames queued for a connection when its writer drained them into one write.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 9), // 1 to 256
		}),
		LagSnapshots: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "marketfeed_ws_lag_snapshots_total",
			Help: "Conflations: lagging connections whose queued book, bbo and ticker messages were dropped and whose book, bbo and ticker subscriptions restarted from a fresh state.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Connections, m.ConnectionsTotal, m.Subscriptions,
			m.MessagesSent, m.BytesSent, m.Disconnects, m.ClientErrors, m.Rejected, m.LagSnapshots,
			m.Resyncs, m.Resumes, m.DeliveryLatency, m.WriteBatch)
	}
	return m
}

// transport returns the collectors the transport updates.
func (m *Metrics) transport() wsconn.Metrics {
	return wsconn.Metrics{
		MessagesSent:    m.MessagesSent,
		BytesSent:       m.BytesSent,
		Disconnects:     m.Disconnects,
		DeliveryLatency: m.DeliveryLatency,
		WriteBatch:      m.WriteBatch,
	}
}
