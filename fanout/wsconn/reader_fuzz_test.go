package wsconn

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/marketfeed/marketfeed/schemas"
)

// fuzzMaxSize is the message size limit of the fuzzed reader: small, so
// that inputs reach it.
const fuzzMaxSize = 100

// splitReader returns data in pieces whose sizes cycle through sizes
// (each byte plus one), the way TCP segments may cut a stream anywhere.
type splitReader struct {
	data  []byte
	sizes []byte
	i     int
}

func (r *splitReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := len(r.data)
	if len(r.sizes) > 0 {
		n = min(n, int(r.sizes[r.i%len(r.sizes)])+1)
		r.i++
	}
	n = copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// readTranscript runs the frame reader over r exactly as a connection's
// read loop does, and describes each frame (what the connection would act
// upon) and how reading ended: a violation's close code, or the reader's
// error. It fails t when an outcome breaks RFC 6455.
func readTranscript(t *testing.T, r io.Reader, deflate bool) []string {
	// The smallest bufio buffer, so that headers and payloads straddle
	// refills.
	br := bufio.NewReaderSize(r, 16)
	st := &readState{}
	var out []string
	for {
		h, err := readHeader(br)
		if err != nil {
			return append(out, endOf(t, err))
		}
		fe := checkHeader(h, st, deflate, fuzzMaxSize)
		if ref := ws.CheckHeader(h, refState(st, deflate)); ref != nil && fe == nil {
			t.Fatalf("header %+v accepted, RFC 6455 refuses it: %v", h, ref)
		}
		if fe != nil {
			return append(out, endOf(t, fe))
		}
		f, err := st.readBody(br, h, fuzzMaxSize)
		if err != nil {
			return append(out, endOf(t, err))
		}
		switch f.op {
		case ws.OpPing, ws.OpPong:
			if len(f.msg) > ws.MaxControlFramePayloadSize {
				t.Fatalf("control frame of %d bytes accepted", len(f.msg))
			}
			out = append(out, fmt.Sprintf("%v %x", f.op, f.msg))
		case ws.OpClose:
			if !validCloseCode(f.code) {
				t.Fatalf("close answered with code %d", f.code)
			}
			if len(st.payload) > 0 {
				if ref := ws.CheckCloseFrameData(ws.ParseCloseFrameData(st.payload)); ref != nil {
					t.Fatalf("close payload %x accepted, RFC 6455 refuses it: %v", st.payload, ref)
				}
			}
			return append(out, fmt.Sprintf("close %d", f.code))
		case ws.OpText:
			if !utf8.Valid(f.msg) || len(f.msg) > fuzzMaxSize {
				t.Fatalf("message %q (%d bytes) handed on", f.msg, len(f.msg))
			}
			out = append(out, fmt.Sprintf("text %q", f.msg))
		case ws.OpContinuation:
			out = append(out, "fragment")
		default:
			t.Fatalf("frame reader returned opcode %v", f.op)
		}
	}
}

// refState is the gobwas state of the connection for ws.CheckHeader.
func refState(st *readState, deflate bool) ws.State {
	s := ws.StateServerSide
	if deflate {
		s |= ws.StateExtended
	}
	if st.inFrag {
		s |= ws.StateFragmented
	}
	return s
}

func endOf(t *testing.T, err error) string {
	var fe *frameError
	if !errors.As(err, &fe) {
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("reader error %v on a reader that only ends", err)
		}
		return "end " + err.Error()
	}
	switch fe.code {
	case schemas.CloseProtocolError, schemas.CloseUnsupportedData, schemas.CloseInvalidPayload, schemas.CloseMessageTooBig:
	default:
		t.Fatalf("violation %q closes with %d", fe.reason, fe.code)
	}
	return fmt.Sprintf("violation %d %s", fe.code, fe.reason)
}

// maskedFrame is a client frame: b0 is the first header byte.
func maskedFrame(b0 byte, payload []byte) []byte {
	var b bytes.Buffer
	f := ws.NewFrame(ws.OpCode(b0&0x0f), b0&0x80 != 0, payload)
	f.Header.Rsv = (b0 >> 4) & 0x7
	_ = ws.WriteFrame(&b, ws.MaskFrame(f))
	return b.Bytes()
}

// FuzzReadFrame feeds the frame reader arbitrary client bytes, cut at
// arbitrary points: whatever the cuts, it must see the same frames and
// end the same way as when the bytes arrive at once, never panic, never
// accept a frame RFC 6455 forbids (checked against gobwas/ws's header and
// close checks), and close only with 1002, 1003, 1007 or 1009.
func FuzzReadFrame(f *testing.F) {
	cat := func(frames ...[]byte) []byte { return bytes.Join(frames, nil) }
	closeBody := func(code uint16, reason string) []byte {
		return append(binary.BigEndian.AppendUint16(nil, code), reason...)
	}
	z, _ := wsflate.CompressFrame(ws.NewTextFrame([]byte(`{"op":"ping","id":1}`)))
	var zb bytes.Buffer
	_ = ws.WriteFrame(&zb, ws.MaskFrame(z))
	seeds := [][]byte{
		maskedFrame(0x81, []byte(`{"op":"ping","id":1}`)),
		cat(maskedFrame(0x01, []byte(`{"op":`)), maskedFrame(0x89, []byte("hi")), maskedFrame(0x80, []byte(`"ping"}`))),
		cat(maskedFrame(0x8a, nil), maskedFrame(0x88, closeBody(1000, "bye"))),
		maskedFrame(0x88, closeBody(1005, "")),
		maskedFrame(0x88, closeBody(4999, "ok")),
		maskedFrame(0x88, []byte{3}),
		maskedFrame(0x88, closeBody(1000, "\xff")),
		maskedFrame(0x89, bytes.Repeat([]byte{'p'}, 126)),
		maskedFrame(0x09, []byte("hi")),
		maskedFrame(0xc1, []byte("x")),
		maskedFrame(0x83, nil),
		maskedFrame(0x82, []byte{1}),
		maskedFrame(0x81, []byte("\xc3\x28")),
		maskedFrame(0x81, bytes.Repeat([]byte{' '}, fuzzMaxSize+1)),
		{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4},
		{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'},
		zb.Bytes(),
	}
	for _, s := range seeds {
		f.Add(s, []byte{0}, false)
		f.Add(s, []byte{2, 0, 6}, true)
	}
	f.Fuzz(func(t *testing.T, data, splits []byte, deflate bool) {
		whole := readTranscript(t, bytes.NewReader(data), deflate)
		cut := readTranscript(t, &splitReader{data: data, sizes: splits}, deflate)
		if fmt.Sprint(whole) != fmt.Sprint(cut) {
			t.Fatalf("read at once: %q\nread in pieces %v: %q", whole, splits, cut)
		}
	})
}
