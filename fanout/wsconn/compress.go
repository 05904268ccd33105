package wsconn

import (
	"bytes"
	"errors"
	"io"
	"sync"

	"github.com/gobwas/ws"
	"github.com/klauspost/compress/flate"
)

// permessage-deflate (RFC 7692), negotiated per client with no context
// takeover in either direction: every message is compressed on its own, so
// a market-data frame is compressed once per stream and the compressed
// bytes are shared by every compressing subscriber, exactly like the plain
// ones. Control messages (acks, errors) are sent uncompressed, which the
// extension allows message by message.

// deflateTail is the empty stored block a sync flush ends with; the
// extension strips it from every message and the receiver puts it back.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

var deflaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed) // level is valid: no error
	return w
}}

// Deflate returns the compressed version of a complete server text
// frame built by this package, or nil when compressing does not make it
// smaller.
func Deflate(frame []byte) []byte {
	payload := Payload(frame)
	buf := bytes.NewBuffer(make([]byte, MaxHeader, MaxHeader+len(payload)/2+16))
	w := deflaters.Get().(*flate.Writer)
	w.Reset(buf)
	_, _ = w.Write(payload) // a bytes.Buffer never fails
	_ = w.Flush()
	deflaters.Put(w)
	out := buf.Bytes()
	if !bytes.HasSuffix(out, deflateTail) {
		return nil
	}
	out = out[:len(out)-len(deflateTail)]
	if len(out)-MaxHeader >= len(payload) {
		return nil
	}
	z := PutHeader(out, ws.OpCode(frame[0]&0x0f)) // text or binary, as frame
	z[0] |= 0x40                                  // RSV1: compressed message
	return z
}

// errInflatedTooBig reports a compressed client message whose inflated size
// exceeds the message size limit.
var errInflatedTooBig = errors.New("wsconn: inflated message too big")

// inflate decompresses a client message, refusing more than limit bytes.
func inflate(p []byte, limit int) ([]byte, error) {
	src := io.MultiReader(bytes.NewReader(p), bytes.NewReader(deflateTail), bytes.NewReader([]byte{0x01, 0x00, 0x00, 0xff, 0xff}))
	r := flate.NewReader(src)
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(out) > limit {
		return nil, errInflatedTooBig
	}
	return out, nil
}
