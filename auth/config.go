package auth

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultKeysPoll is how often Store.Watch checks the key file for
// changes when given no interval, and the default of the configuration's
// auth.keys_poll.
const DefaultKeysPoll = 250 * time.Millisecond

// Defaults of FailureLimiter, applied to its zero fields: a client address
// may fail 10 authentications at once, then one every 6s.
const (
	// DefaultFailureBurst is the default FailureLimiter.Burst.
	DefaultFailureBurst = 10
	// DefaultFailureEvery is the default FailureLimiter.Every.
	DefaultFailureEvery = 6 * time.Second
)

// Defaults of RequestLimiter, applied to its zero fields: a caller may
// make 20 requests at once, then 20 a second.
const (
	// DefaultRequestBurst is the default RequestLimiter.Burst.
	DefaultRequestBurst = 20
	// DefaultRequestEvery is the default RequestLimiter.Every.
	DefaultRequestEvery = 50 * time.Millisecond
)

// ErrPublicHost reports an entry of Gate.PublicHosts that is not a host
// name or host:port.
var ErrPublicHost = errors.New("not a host name or host:port")

// ValidatePublicHost reports whether h is an entry Gate.PublicHosts can
// match: a host name ("feed.example.com") or host:port
// ("feed.example.com:8443"), not a URL, a path or a wildcard. The error
// wraps ErrPublicHost.
func ValidatePublicHost(h string) error {
	if strings.Contains(h, "/") || strings.Contains(h, "*") {
		return fmt.Errorf("%q is %w", h, ErrPublicHost)
	}
	return nil
}
