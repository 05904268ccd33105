package wsconn

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// A long close reason is cut to fit a control frame without splitting a
// character: the close frame stays valid (at most 125 bytes, UTF-8).
func TestCloseFrameLongReason(t *testing.T) {
	for _, reason := range []string{strings.Repeat("x", 200), strings.Repeat("é", 100), "a" + strings.Repeat("€", 60)} {
		f := CloseFrame(4003, reason)
		p := Payload(f)
		if len(p) > 125 || f[0] != 0x88 || int(p[0])<<8|int(p[1]) != 4003 || !utf8.Valid(p[2:]) || !strings.HasPrefix(reason, string(p[2:])) || len(p) < 122 {
			t.Errorf("reason %q: close payload %q (%d bytes)", reason[:10], p, len(p))
		}
	}
}
