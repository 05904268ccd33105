package fanout

import (
	"testing"

	"github.com/marketfeed/marketfeed/schemas"
)

// FuzzJSONStringSame checks that schemas.AppendJSONString writes the same
// bytes as the frame writer's appendJSONString for every input, so either
// can serve the other's callers.
func FuzzJSONStringSame(f *testing.F) {
	for _, s := range []string{"", "book.BTC-USD", `q"b\s/`, "\x00\x1f\x7f\n\r\t", "é😀\u2028",
		"bad\xffutf8\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", "trunc\xe2\x82"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := appendJSONString([]byte("p"), s)
		if got := schemas.AppendJSONString([]byte("p"), s); string(got) != string(want) {
			t.Fatalf("schemas.AppendJSONString(%q) = %q, appendJSONString %q", s, got, want)
		}
	})
}
