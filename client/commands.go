package client

import (
	"github.com/gobwas/ws"

	"github.com/marketfeed/marketfeed/schemas"
)

// Every command is written by schemas.AppendCommand, the protocol's one
// encoder of client messages.

func (c *Conn) send(cmd *schemas.Command) error {
	var buf [256]byte
	return c.SendRaw(schemas.AppendCommand(buf[:0], cmd))
}

// sendChannels sends cmd with channels, which must not be empty.
func (c *Conn) sendChannels(cmd schemas.Command, channels []string) error {
	if len(channels) == 0 {
		return ErrNoChannels
	}
	cmd.Channels = channels
	return c.send(&cmd)
}

// SubscribeOptions are the options of a subscribe command
// (websocket.md section 3.1). Zero values are not sent, which leaves the
// server's defaults.
type SubscribeOptions struct {
	// Depth is the number of book levels per side (book channels only):
	// 1, 5, 10, 20, 50, 100, 500 or 1000. Zero leaves the server default
	// (20).
	Depth int
	// Interval is "raw", "100ms" or "1s". Empty leaves the server default
	// ("raw" for book, bbo and trades, "100ms" for ticker).
	Interval string
	// Lag is what the server does when the client falls behind (book,
	// bbo and ticker channels): schemas.LagSnapshot skips ahead to a fresh
	// state, schemas.LagEvict delivers every message or closes the connection
	// (4001). Empty leaves the server default (schemas.LagSnapshot).
	Lag string
	// Resume gives, per channel of the command, the position the client
	// reached (websocket.md section 3.1, Resume): epoch and seq of the
	// last book or bbo message applied, nothing for ticker and tickers.
	// The subscribed reply of each says whether it resumed
	// (schemas.ServerMessage Resumed, ResumeReason). Nil sends none.
	Resume []schemas.Resume
	// Resolution is the candles' resolution (candles channels only):
	// "1m", "5m", "15m", "1h" or "1d". Empty leaves the server default
	// ("1m").
	Resolution string
}

// Subscribe asks for channels ("book.BTC-USD", "ticker.BTC-USD",
// "trades.BTC-USD"...). id is echoed in the reply (0 sends none). depth
// applies to book channels; 0 leaves the server default. interval is
// "raw", "100ms" or "1s"; "" leaves the server default. The reply arrives
// through Next as a subscribed or error message. SubscribeWith takes every
// option.
func (c *Conn) Subscribe(id int64, channels []string, depth int, interval string) error {
	return c.SubscribeWith(id, channels, SubscribeOptions{Depth: depth, Interval: interval})
}

// SubscribeWith is Subscribe with every option of the subscribe command,
// including the lag policy.
func (c *Conn) SubscribeWith(id int64, channels []string, opt SubscribeOptions) error {
	return c.sendChannels(schemas.Command{Op: schemas.OpSubscribe, ID: id,
		Depth: opt.Depth, Interval: opt.Interval, Lag: opt.Lag, Resume: opt.Resume, Resolution: opt.Resolution}, channels)
}

// Unsubscribe cancels subscriptions to channels; id is echoed in the reply
// (0 sends none).
func (c *Conn) Unsubscribe(id int64, channels []string) error {
	return c.sendChannels(schemas.Command{Op: schemas.OpUnsubscribe, ID: id}, channels)
}

// Resync asks for a fresh snapshot of book subscriptions without
// unsubscribing (after ErrGap or ErrChecksum, for example). There is no
// acknowledgement: the next book message of each channel is its snapshot
// (or a status message while the server does not serve the book). An
// error message carrying id reports a channel that is not a subscribed
// book channel.
func (c *Conn) Resync(id int64, channels []string) error {
	return c.sendChannels(schemas.Command{Op: schemas.OpResync, ID: id}, channels)
}

// Ping sends an application-level ping; the server answers with a pong
// message carrying id.
func (c *Conn) Ping(id int64) error { return c.send(&schemas.Command{Op: schemas.OpPing, ID: id}) }

// List asks for the connection's subscriptions; the server answers with a
// subscriptions message carrying id.
func (c *Conn) List(id int64) error { return c.send(&schemas.Command{Op: schemas.OpList, ID: id}) }

// Auth presents an API key on a connection opened without one (as the
// connection's first message; websocket.md section 3.6). The server
// answers with an authenticated message carrying id, after which the
// key's plan applies, or refuses the key with an unauthorized error and
// close 4003 (4004 when the key has its maximum of connections). An empty
// key is ErrNoKey and sends nothing.
func (c *Conn) Auth(id int64, key string) error {
	if key == "" {
		return ErrNoKey
	}
	return c.send(&schemas.Command{Op: schemas.OpAuth, ID: id, Key: key})
}

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
