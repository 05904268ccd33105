package client

import (
	"errors"
	"fmt"

	"github.com/marketfeed/marketfeed/schemas"
)

// Sentinel errors of the package.
var (
	// ErrClosed is returned by Next, NextRaw and the send methods once Close
	// was called.
	ErrClosed = errors.New("client: connection closed")
	// ErrNoWelcome reports a server whose first message is not a welcome
	// message.
	ErrNoWelcome = errors.New("client: first server message is not a welcome")
	// ErrProtocolVersion reports a welcome announcing a protocol version this
	// client does not speak.
	ErrProtocolVersion = errors.New("client: unsupported protocol version")
	// ErrProtocol reports a WebSocket framing violation by the server (masked,
	// reserved bits, bad control frame, bad continuation). The connection is
	// closed with code 1002.
	ErrProtocol = errors.New("client: websocket protocol violation")
	// ErrBinaryMessage reports a binary data message on a connection that
	// did not negotiate schemas.SubprotocolBinary, whose messages are text
	// frames only. The connection is closed with code 1003.
	ErrBinaryMessage = errors.New("client: binary message received")
	// ErrSubprotocol reports an Options.Protocol that is not a subprotocol
	// of the protocol, or a server that did not agree to it.
	ErrSubprotocol = errors.New("client: subprotocol not agreed")
	// ErrInvalidUTF8 reports a text message that is not valid UTF-8. The
	// connection is closed with code 1007.
	ErrInvalidUTF8 = errors.New("client: text message is not valid UTF-8")
	// ErrMessageTooLarge reports a message larger than
	// Options.MaxMessageSize. The connection is closed with code 1009.
	ErrMessageTooLarge = errors.New("client: message too large")
	// ErrNoChannels reports a subscribe or unsubscribe call without channels.
	ErrNoChannels = errors.New("client: no channel given")
	// ErrNoKey reports an Auth call with an empty key.
	ErrNoKey = errors.New("client: no API key given")

	// ErrGap is returned by Book.Apply for an update whose first_seq does not
	// follow the seq of the previous book message. The book is not synced
	// until the next snapshot.
	ErrGap = errors.New("client: book sequence gap")
	// ErrNotSynced is returned by Book.Apply for an update received while the
	// book is not synced (before the first snapshot, after a gap or a status
	// message). The update is ignored.
	ErrNotSynced = errors.New("client: book not synced")
	// ErrInvalidLevel reports a book message with a price or size that is not
	// a plain decimal (or a negative size). The book is not synced until the
	// next snapshot.
	ErrInvalidLevel = errors.New("client: invalid book level")
	// ErrNotice is the error of the EventDisconnected that follows an
	// EventNotice: the Stream left a connection the server was about to
	// close, to reconnect without delay.
	ErrNotice = errors.New("client: the server announced a close; reconnecting")
	// ErrChecksum is returned by Book.Apply when the view after a snapshot
	// or update does not have the checksum the message carries. The book is
	// not synced until the next snapshot.
	ErrChecksum = errors.New("client: book checksum mismatch")
)

// CloseError is returned by Next and NextRaw after the server closed the
// connection with a close frame. Code is the WebSocket close code (for
// example 1001 server shutting down, 4000 idle timeout, 4001 slow consumer,
// 4002 too many invalid messages); a close frame without a code is reported
// as 1005.
type CloseError struct {
	Code   int
	Reason string
}

// Error describes the close code and reason.
func (e *CloseError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("client: connection closed by server (code %d)", e.Code)
	}
	return fmt.Sprintf("client: connection closed by server (code %d: %s)", e.Code, e.Reason)
}

// ServerError is an error message sent by the server in reply to a command
// (see the stable error codes of the protocol: unknown_symbol,
// invalid_depth, rate_limited...).
type ServerError struct {
	ID      int64  // id of the command, 0 when absent
	Code    string // stable error code
	Message string // human-readable text
	Channel string // channel concerned, if any
}

// Error describes the server's error code, channel and message.
func (e *ServerError) Error() string {
	s := "client: server error " + e.Code
	if e.Channel != "" {
		s += " on " + e.Channel
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// ServerErrorOf returns the error carried by m when m is an error message,
// and nil otherwise.
func ServerErrorOf(m *schemas.ServerMessage) *ServerError {
	if m == nil || m.Type != schemas.TypeError {
		return nil
	}
	return &ServerError{ID: m.ID, Code: m.Code, Message: m.Message, Channel: m.Channel}
}
