package client

import (
	"encoding/json"

	"github.com/gobwas/ws"
)

// command is one client → server message.
type command struct {
	Op       string   `json:"op"`
	ID       int64    `json:"id,omitempty"`
	Channel  string   `json:"channel,omitempty"`
	Channels []string `json:"channels,omitempty"`
	Depth    int      `json:"depth,omitempty"`
	Interval string   `json:"interval,omitempty"`
}

func (c *Conn) send(cmd command) error {
	b, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	return c.SendRaw(b)
}

func withChannels(cmd command, channels []string) (command, error) {
	switch len(channels) {
	case 0:
		return cmd, ErrNoChannels
	case 1:
		cmd.Channel = channels[0]
	default:
		cmd.Channels = channels
	}
	return cmd, nil
}

// Subscribe asks for channels ("book.BTC-USD", "ticker.BTC-USD",
// "trades.BTC-USD"...). id is echoed in the reply (0 sends none). depth
// applies to book channels; 0 leaves the server default. interval is
// "raw", "100ms" or "1s"; "" leaves the server default. The reply arrives
// through Next as a subscribed or error message.
func (c *Conn) Subscribe(id int64, channels []string, depth int, interval string) error {
	cmd, err := withChannels(command{Op: "subscribe", ID: id, Depth: depth, Interval: interval}, channels)
	if err != nil {
		return err
	}
	return c.send(cmd)
}

// Unsubscribe cancels subscriptions to channels; id is echoed in the reply
// (0 sends none).
func (c *Conn) Unsubscribe(id int64, channels []string) error {
	cmd, err := withChannels(command{Op: "unsubscribe", ID: id}, channels)
	if err != nil {
		return err
	}
	return c.send(cmd)
}

// Resync asks for a fresh snapshot of book subscriptions without
// unsubscribing (after ErrGap or ErrChecksum, for example). There is no
// acknowledgement: the next book message of each channel is its snapshot
// (or a status message while the server does not serve the book). An
// error message carrying id reports a channel that is not a subscribed
// book channel.
func (c *Conn) Resync(id int64, channels []string) error {
	cmd, err := withChannels(command{Op: "resync", ID: id}, channels)
	if err != nil {
		return err
	}
	return c.send(cmd)
}

// Ping sends an application-level ping; the server answers with a pong
// message carrying id.
func (c *Conn) Ping(id int64) error { return c.send(command{Op: "ping", ID: id}) }

// List asks for the connection's subscriptions; the server answers with a
// subscriptions message carrying id.
func (c *Conn) List(id int64) error { return c.send(command{Op: "list", ID: id}) }

// SendRaw sends text as one text frame, unchanged. It exists to exercise
// the server with arbitrary (also invalid) input.
func (c *Conn) SendRaw(text []byte) error {
	select {
	case <-c.quit:
		return ErrClosed
	default:
	}
	return c.writeFrame(ws.OpText, text)
}
