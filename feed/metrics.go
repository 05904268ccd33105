package feed

import (
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds the Prometheus collectors of package feed. Partitions are
// few, so per-partition series carry a "partition" label.
//
// A Metrics is safe for concurrent use. Several Consumers may share one.
type Metrics struct {
	records        *prometheus.CounterVec
	bytes          *prometheus.CounterVec
	fetchErrors    *prometheus.CounterVec
	reconnects     *prometheus.CounterVec
	offsetResets   *prometheus.CounterVec
	lag            *prometheus.GaugeVec
	caughtUp       *prometheus.GaugeVec
	metadataErrors prometheus.Counter
	partitions     prometheus.Gauge
}

// NewMetrics creates the collectors and registers them with reg. A nil reg
// leaves them unregistered (they still count, which tests use). Collectors
// already registered on reg by an earlier NewMetrics are reused, so two
// Metrics on one registry feed the same series.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns, sub = "marketfeed", "feed"
	part := []string{"partition"}
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "records_total",
			Help: "Records consumed from Kafka.",
		}, part),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "bytes_total",
			Help: "Key and value bytes of the records consumed from Kafka.",
		}, part),
		fetchErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "fetch_errors_total",
			Help: "Failed broker requests of a partition reader (leader lookup, dial, offsets, fetch).",
		}, part),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "reconnects_total",
			Help: "Reconnections of a partition reader after a broker error.",
		}, part),
		offsetResets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "offset_resets_total",
			Help: "Times a partition's position was out of the broker's range and was moved to the nearest end.",
		}, part),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "consumer_lag",
			Help: "Records between the consumer's position and the partition high-water mark, as of the last fetch.",
		}, part),
		caughtUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "caught_up",
			Help: "1 once the partition reached the end offset it had when its reader started.",
		}, part),
		metadataErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "metadata_errors_total",
			Help: "Failed listings of the topic's partitions.",
		}),
		partitions: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "partitions",
			Help: "Partitions being consumed.",
		}),
	}
	if reg != nil {
		m.records = register(reg, m.records)
		m.bytes = register(reg, m.bytes)
		m.fetchErrors = register(reg, m.fetchErrors)
		m.reconnects = register(reg, m.reconnects)
		m.offsetResets = register(reg, m.offsetResets)
		m.lag = register(reg, m.lag)
		m.caughtUp = register(reg, m.caughtUp)
		m.metadataErrors = register(reg, m.metadataErrors)
		m.partitions = register(reg, m.partitions)
	}
	return m
}

// register registers c, or returns the equal collector already registered.
// Any other registration failure is a programming error and panics.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic(err)
}

// partitionMetrics caches the per-partition children so the hot path does
// no label lookups.
type partitionMetrics struct {
	records      prometheus.Counter
	bytes        prometheus.Counter
	fetchErrors  prometheus.Counter
	reconnects   prometheus.Counter
	offsetResets prometheus.Counter
	lag          prometheus.Gauge
	caughtUp     prometheus.Gauge
}

func (m *Metrics) partition(p int) *partitionMetrics {
	l := strconv.Itoa(p)
	return &partitionMetrics{
		records:      m.records.WithLabelValues(l),
		bytes:        m.bytes.WithLabelValues(l),
		fetchErrors:  m.fetchErrors.WithLabelValues(l),
		reconnects:   m.reconnects.WithLabelValues(l),
		offsetResets: m.offsetResets.WithLabelValues(l),
		lag:          m.lag.WithLabelValues(l),
		caughtUp:     m.caughtUp.WithLabelValues(l),
	}
}
