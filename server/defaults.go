package server

import (
	"errors"
	"net"
	"time"

	"github.com/marketfeed/marketfeed/auth"
	"github.com/marketfeed/marketfeed/internal/configerr"
)

// Defaults of Config, applied to its zero fields by New (and used by the
// configuration file for its keys). Those of Config.HTTP are in
// limits.go, those of Config.Feed in package feed, KeysPoll's in package
// auth (auth.DefaultKeysPoll).
const (
	// DefaultListen is the default Config.Listen.
	DefaultListen = ":8080"
	// DefaultShutdownTimeout is the default Config.ShutdownTimeout.
	DefaultShutdownTimeout = 10 * time.Second
)

// ErrConfig reports an invalid Config; every *FieldError wraps it.
var ErrConfig = errors.New("server: invalid config")

// FieldError is one invalid field of a Config, as Validate reports it:
// Sentinel ErrConfig, Field its name ("Listen", "PublicHosts"…), Err the
// error of the package whose rule the value breaks, if any (for
// PublicHosts, auth's), nil otherwise.
type FieldError = configerr.FieldError

// Validate reports every invalid field of c, its defaults applied, each
// a *FieldError, joined with the errors of c.Feed.Validate
// (*feed.FieldError) and c.WS.Validate (*fanout.FieldError): the
// configuration is checked as a whole before New binds anything
// (internal/config does so for the file's keys).
func (c Config) Validate() error {
	var errs []error
	bad := func(field string, err error, format string, a ...any) {
		errs = append(errs, configerr.New(ErrConfig, field, err, format, a...))
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("Listen", nil, "%q is not host:port", c.Listen)
	}
	if c.AdminListen != "" {
		if _, port, err := net.SplitHostPort(c.AdminListen); err != nil {
			bad("AdminListen", nil, "%q is not host:port", c.AdminListen)
		} else if c.AdminListen == c.Listen && port != "0" {
			bad("AdminListen", nil, "must differ from the main listen address (leave it empty to share the listener)")
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		bad("TLSCertFile", nil, "certificate and key files must be set together")
	}
	if c.ShutdownTimeout < 0 {
		bad("ShutdownTimeout", nil, "negative duration %v", c.ShutdownTimeout)
	}
	if c.RESTBurst < 0 {
		bad("RESTBurst", nil, "negative burst %d", c.RESTBurst)
	}
	if c.RESTEvery < 0 {
		bad("RESTEvery", nil, "negative duration %v", c.RESTEvery)
	}
	if c.TradeHistory.Window < 0 {
		bad("TradeHistory.Window", nil, "negative duration %v", c.TradeHistory.Window)
	}
	if c.TradeHistory.MaxBytes < 0 {
		bad("TradeHistory.MaxBytes", nil, "negative size %d", c.TradeHistory.MaxBytes)
	}
	for _, h := range c.PublicHosts {
		if err := auth.ValidatePublicHost(h); err != nil {
			bad("PublicHosts", err, "%v", err)
		}
	}
	return errors.Join(append(errs, c.Feed.Validate(), c.WS.Validate())...)
}
