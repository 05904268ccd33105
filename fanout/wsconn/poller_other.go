//go:build !linux

package wsconn

import "errors"

// poller is Linux-only: elsewhere every connection keeps a read goroutine
// of its own (Conn.readLoop), and Config.DisablePoller has no effect.
type poller struct{}

func newPoller(*Transport) (*poller, error) {
	return nil, errors.New("wsconn: no poller on this platform")
}

func (*poller) add(*Conn) bool  { return false }
func (*poller) arm(*Conn) error { return errors.New("wsconn: no poller on this platform") }
func (*poller) remove(*Conn)    {}
func (*poller) stop()           {}
