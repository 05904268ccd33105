package wsconn

import (
	"bufio"
	"errors"
	"io"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/schemas"
)

// The frame reader: every byte a client sends passes through readHeader,
// checkHeader and readBody, which apply RFC 6455 (and RFC 7692 for RSV1)
// before anything is acted upon. They touch nothing but the readState
// they are given, so that the fuzz target exercises exactly the code a
// connection runs.

// frameError is a client frame that breaks RFC 6455 or a server limit:
// the connection is closed with code and reason (a close frame), counted
// under metric (marketfeed_ws_disconnects_total).
type frameError struct {
	code   int
	reason string
	metric string
}

func (e *frameError) Error() string { return "wsconn: client frame: " + e.reason }

func protocolError(reason string) *frameError {
	return &frameError{code: schemas.CloseProtocolError, reason: reason, metric: "protocol_error"}
}

func invalidPayload(reason string) *frameError {
	return &frameError{code: schemas.CloseInvalidPayload, reason: reason, metric: "protocol_error"}
}

// The violations, each with its close code.
var (
	errUnmasked          = protocolError("client frames must be masked")
	errLengthMSB         = protocolError("frame length with the most significant bit set")
	errReservedOpcode    = protocolError("reserved opcode")
	errReservedBits      = protocolError("reserved bits set")
	errControlTooLong    = protocolError("control frame longer than 125 bytes")
	errControlFragmented = protocolError("fragmented control frame")
	errFragmentation     = protocolError("bad fragmentation")
	errCloseLength       = protocolError("close payload of 1 byte")
	errCloseCode         = protocolError("invalid close code")
	errCloseReason       = invalidPayload("close reason is not valid UTF-8")
	errInvalidUTF8       = invalidPayload("invalid UTF-8")
	errInvalidCompressed = invalidPayload("invalid compressed data")
	errTooBig            = &frameError{code: schemas.CloseMessageTooBig, reason: "message too big", metric: "message_too_big"}
	errBinary            = &frameError{code: schemas.CloseUnsupportedData, reason: "binary frames are not supported", metric: "protocol_error"}
)

// clientFrame is what one client frame amounts to once read: a ping or
// pong with its payload, a close with the code to answer with, a complete
// text message (op text, msg inflated and valid UTF-8), or, for a fragment
// that does not end its message, op continuation and nothing to act upon.
// msg aliases the readState's buffers: valid until the next frame is read.
type clientFrame struct {
	op   ws.OpCode
	msg  []byte
	code int // close only: the code of the close frame that answers it
}

// readHeader reads a frame header. A length with its most significant bit
// set is a protocol violation (errLengthMSB); any other error is the
// reader's.
func readHeader(br *bufio.Reader) (ws.Header, error) {
	h, err := ws.ReadHeader(br)
	if errors.Is(err, ws.ErrHeaderLengthMSB) {
		return h, errLengthMSB
	}
	return h, err
}

// checkHeader applies RFC 6455 §5.1-5.5 to a client frame header before
// any of its payload is read: masking, known opcodes, control frames of at
// most 125 bytes with FIN set, reserved bits (only RSV1 on the first frame
// of a data message, and only with permessage-deflate negotiated),
// fragmentation order, and the size limit of messages (maxSize; control
// frames have their own, 125 bytes).
func checkHeader(h ws.Header, st *readState, deflate bool, maxSize int) *frameError {
	switch {
	case !h.Masked:
		return errUnmasked
	case h.OpCode.IsReserved():
		return errReservedOpcode
	case h.OpCode.IsControl() && h.Length > ws.MaxControlFramePayloadSize:
		return errControlTooLong
	case h.OpCode.IsControl() && !h.Fin:
		return errControlFragmented
	case h.Rsv != 0 && !(deflate && h.Rsv == 0x4 && (h.OpCode == ws.OpText || h.OpCode == ws.OpBinary)):
		return errReservedBits
	case (h.OpCode == ws.OpText || h.OpCode == ws.OpBinary) && st.inFrag,
		h.OpCode == ws.OpContinuation && !st.inFrag:
		return errFragmentation
	case h.OpCode == ws.OpBinary:
		return errBinary
	case !h.OpCode.IsControl() && h.Length > int64(maxSize),
		h.OpCode == ws.OpContinuation && int64(len(st.message))+h.Length > int64(maxSize):
		return errTooBig
	}
	return nil
}

// readBody reads and unmasks the payload of a frame whose header passed
// checkHeader, and returns what the frame amounts to. A *frameError is a
// violation found in the payload: an invalid close payload, invalid UTF-8,
// invalid or oversized compressed data. Any other error is the reader's.
func (st *readState) readBody(br *bufio.Reader, h ws.Header, maxSize int) (clientFrame, error) {
	if cap(st.payload) < int(h.Length) {
		st.payload = make([]byte, h.Length)
	}
	st.payload = st.payload[:h.Length]
	if _, err := io.ReadFull(br, st.payload); err != nil {
		return clientFrame{}, err
	}
	ws.Cipher(st.payload, h.Mask, 0)
	switch h.OpCode {
	case ws.OpPing, ws.OpPong:
		return clientFrame{op: h.OpCode, msg: st.payload}, nil
	case ws.OpClose:
		code, fe := checkClose(st.payload)
		if fe != nil {
			return clientFrame{op: ws.OpClose}, fe
		}
		return clientFrame{op: ws.OpClose, code: code}, nil
	}
	// Text or continuation (checkHeader refused the rest).
	if h.OpCode == ws.OpText {
		st.compressed = h.Rsv1()
		st.message = st.message[:0]
	}
	if !h.Fin {
		st.message = append(st.message, st.payload...)
		st.inFrag = true
		return clientFrame{op: ws.OpContinuation}, nil
	}
	msg := st.payload
	if st.inFrag {
		st.message = append(st.message, st.payload...)
		msg, st.inFrag = st.message, false
	}
	if st.compressed {
		var err error
		if msg, err = inflate(msg, maxSize); err != nil {
			if errors.Is(err, errInflatedTooBig) {
				return clientFrame{}, errTooBig
			}
			return clientFrame{}, errInvalidCompressed
		}
	}
	if !utf8.Valid(msg) {
		return clientFrame{}, errInvalidUTF8
	}
	return clientFrame{op: ws.OpText, msg: msg}, nil
}

// checkClose validates a client close payload (RFC 6455 §5.5.1, §7.4): empty,
// or a code a peer may send (validCloseCode) followed by a UTF-8 reason.
// It returns the code the server's close frame answers with: the client's,
// or 1000 for an empty close.
func checkClose(p []byte) (int, *frameError) {
	switch {
	case len(p) == 0:
		return schemas.CloseNormal, nil
	case len(p) == 1:
		return 0, errCloseLength
	}
	code, reason := ws.ParseCloseFrameDataUnsafe(p)
	if !validCloseCode(int(code)) {
		return 0, errCloseCode
	}
	if !utf8.ValidString(reason) {
		return 0, errCloseReason
	}
	return int(code), nil
}

// validCloseCode reports whether code may appear in a close frame on the
// wire: the codes RFC 6455 §7.4.1 defines for that (1000-1003, 1007-1011)
// and the ranges left to libraries and applications (3000-4999). 1004,
// 1005, 1006 and 1015 never travel in a close frame, and 0-999, 1012-2999
// and 5000 up are not in use.
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1011:
		return true
	}
	return code >= 3000 && code <= 4999
}
