package auth

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the authentication collectors. Labels are fixed sets of
// reasons, never key ids or secrets.
type Metrics struct {
	// Failures counts refused authentications by reason: missing,
	// malformed, unknown, revoked, expired, rate_limited, origin.
	Failures *prometheus.CounterVec
	// Denials counts refused requests of authenticated clients by reason:
	// symbol, channel, depth, interval, connection_limit,
	// subscription_limit, rate_limit.
	Denials *prometheus.CounterVec
	// Revocations counts connections refused or closed because their key
	// stopped being valid after they connected, by reason: revoked,
	// expired, unknown (removed from the file), missing (anonymous plan
	// withdrawn). Subscriptions removed by a narrowed plan count as
	// Denials.
	Revocations *prometheus.CounterVec
	// Reloads counts key file loads by result: ok, error.
	Reloads *prometheus.CounterVec
}

// NewMetrics creates the collectors and registers them with reg; a nil
// reg leaves them unregistered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "marketfeed_auth_failures_total", Help: "Refused authentications by reason.",
		}, []string{"reason"}),
		Denials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "marketfeed_auth_denials_total", Help: "Entitlement denials by reason.",
		}, []string{"reason"}),
		Revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "marketfeed_auth_revocations_total", Help: "Connections refused or closed because their key is no longer valid, by reason.",
		}, []string{"reason"}),
		Reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "marketfeed_auth_reloads_total", Help: "Key file loads by result.",
		}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.Failures, m.Denials, m.Revocations, m.Reloads)
	}
	return m
}
