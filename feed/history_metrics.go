package feed

import "github.com/prometheus/client_golang/prometheus"

// HistoryMetrics measure what the symbols keep in memory to resume
// streams.
type HistoryMetrics struct {
	// Bytes is the memory of the histories of every symbol, by kind
	// ("trades": the trade histories, market.TradeRecordBytes a trade).
	Bytes *prometheus.GaugeVec
	// trades is Bytes of kind trades, resolved once.
	trades prometheus.Gauge
}

// NewHistoryMetrics creates the collectors and registers them with reg;
// a nil reg leaves them unregistered. A collector already registered
// under the same name is reused.
func NewHistoryMetrics(reg prometheus.Registerer) *HistoryMetrics {
	m := &HistoryMetrics{Bytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "marketfeed_history_bytes", Help: "Memory of the per-symbol histories kept to resume streams, by kind.",
	}, []string{"kind"})}
	if reg != nil {
		m.Bytes = register(reg, m.Bytes)
	}
	m.trades = m.Bytes.WithLabelValues("trades")
	return m
}
