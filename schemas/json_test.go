package schemas

import (
	"encoding/json"
	"strconv"
	"testing"
	"unicode/utf8"
)

var jsonStringInputs = []string{
	"", "plain", `q"b\s/`, "\x00\x1f\x7f", "tab\tnl\ncr\r", "é😀", "bad\xffutf8\xc3",
	"\u2028", "\xed\xa0\x80", "\xf4\x90\x80\x80", "trunc\xe2\x82", "<>&", "book.BTC-USD",
}

// TestAppendJSONStringGolden pins the exact escapes: a backslash before '"'
// and '\', \u00XX for every other control byte, \ufffd per invalid byte.
func TestAppendJSONStringGolden(t *testing.T) {
	for in, want := range map[string]string{
		"":               `""`,
		"a\"b\\c":        `"a\"b\\c"`,
		"\n\r\t\x00\x1f": `"\u000a\u000d\u0009\u0000\u001f"`,
		"\x7f/<>&":       "\"\x7f/<>&\"",
		"é😀":             `"é😀"`,
		"x\xffy\xc3":     `"x\ufffdy\ufffd"`,
		"\xed\xa0\x80":   `"\ufffd\ufffd\ufffd"`,
	} {
		if got := AppendJSONString(nil, in); string(got) != want {
			t.Errorf("AppendJSONString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, in := range jsonStringInputs {
		checkJSONString(t, in)
	}
}

// checkJSONString checks that the encoding of in is valid JSON decoding to
// what encoding/json makes of in (which replaces invalid UTF-8 with U+FFFD
// the same way), and that the string and byte-slice forms agree.
func checkJSONString(t *testing.T, in string) {
	t.Helper()
	enc := AppendJSONString([]byte("x"), in)[1:]
	if b := appendJSONString(nil, []byte(in)); string(b) != string(enc) {
		t.Fatalf("byte form of %q: %s, string form %s", in, b, enc)
	}
	var got string
	if err := json.Unmarshal(enc, &got); err != nil {
		t.Fatalf("AppendJSONString(%q) = %s: %v", in, enc, err)
	}
	want, _ := json.Marshal(in)
	var wantStr string
	if err := json.Unmarshal(want, &wantStr); err != nil {
		t.Fatal(err)
	}
	if got != wantStr {
		t.Fatalf("AppendJSONString(%q) decodes to %q, want %q", in, got, wantStr)
	}
	if !utf8.Valid(enc) {
		t.Fatalf("AppendJSONString(%q) = %q: invalid UTF-8", in, enc)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, in := range jsonStringInputs {
		f.Add(in)
	}
	f.Fuzz(checkJSONString)
}

func TestAppendJSONStringAllocs(t *testing.T) {
	buf := make([]byte, 0, 256)
	in := "trade \"7\" é\xff\n"
	b := []byte(in)
	if n := testing.AllocsPerRun(100, func() {
		buf = AppendJSONString(buf[:0], in)
		buf = appendJSONString(buf[:0], b)
	}); n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}

func BenchmarkAppendJSONString(b *testing.B) {
	for _, in := range []string{"64123.10", "0.00000001", "book.BTC-USD-PERPETUAL-2026", "trade \"7\" é"} {
		b.Run(strconv.Itoa(len(in)), func(b *testing.B) {
			buf := make([]byte, 0, 64)
			p := []byte(in)
			b.ReportAllocs()
			for range b.N {
				buf = appendJSONString(buf[:0], p)
			}
		})
	}
}
