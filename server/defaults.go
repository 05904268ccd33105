package server

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/marketfeed/marketfeed/auth"
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

// FieldError is one invalid field of a Config, as Validate reports it.
type FieldError struct {
	// Field names the Config field: "Listen", "PublicHosts"…
	Field string
	// Reason says what is wrong with its value.
	Reason string
	// Err is the error of the package whose rule the value breaks, if
	// any (for PublicHosts, auth's); Unwrap returns it beside ErrConfig.
	Err error
}

func (e *FieldError) Error() string { return ErrConfig.Error() + ": " + e.Field + ": " + e.Reason }

// Unwrap returns ErrConfig and the underlying error, if any.
func (e *FieldError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrConfig, e.Err}
	}
	return []error{ErrConfig}
}

// Validate reports every invalid field of c, its defaults applied, each
// a *FieldError, joined with the errors of c.Feed.Validate
// (*feed.FieldError) and c.WS.Validate (*fanout.FieldError): the
// configuration is checked as a whole before New binds anything
// (internal/config does so for the file's keys).
func (c Config) Validate() error {
	var errs []error
	bad := func(field string, err error, format string, a ...any) {
		errs = append(errs, &FieldError{Field: field, Reason: fmt.Sprintf(format, a...), Err: err})
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
	for _, h := range c.PublicHosts {
		if err := auth.ValidatePublicHost(h); err != nil {
			bad("PublicHosts", err, "%v", err)
		}
	}
	return errors.Join(append(errs, c.Feed.Validate(), c.WS.Validate())...)
}
