package feed

import "github.com/prometheus/client_golang/prometheus"

// TradeHistoryMetrics measure the trade histories the symbols keep, from
// which trades streams resume and GET /v1/trades answers.
type TradeHistoryMetrics struct {
	// Bytes is the memory of the trade histories of every symbol
	// (market.TradeRecordBytes a trade), kept current by the shards as
	// they apply trades.
	Bytes prometheus.Gauge
}

// NewTradeHistoryMetrics creates the collectors and registers them with
// reg; a nil reg leaves them unregistered. A collector already
// registered under the same name is reused.
func NewTradeHistoryMetrics(reg prometheus.Registerer) *TradeHistoryMetrics {
	m := &TradeHistoryMetrics{Bytes: prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "marketfeed_trade_history_bytes", Help: "Memory of the per-symbol trade histories (recent trades kept for trades resumes and GET /v1/trades), over all symbols.",
	})}
	if reg != nil {
		m.Bytes = register(reg, m.Bytes)
	}
	return m
}
