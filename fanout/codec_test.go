package fanout

import (
	"testing"

	"github.com/marketfeed/marketfeed/schemas"
)

// TestSubscribersEncodings: a subscriber set knows which encodings its
// connections use through adds, removals and moves, so that a stream
// encodes exactly those.
func TestSubscribersEncodings(t *testing.T) {
	js, bin1, bin2 := &Conn{enc: schemas.EncodingJSON}, &Conn{enc: schemas.EncodingBinary}, &Conn{enc: schemas.EncodingBinary}
	both := encOf(schemas.EncodingJSON) | encOf(schemas.EncodingBinary)
	var subs, joining subscribers
	check := func(s *subscribers, want encSet) {
		t.Helper()
		if got := s.encodings(); got != want {
			t.Fatalf("encodings %b, want %b", got, want)
		}
	}
	check(&subs, 0)
	subs.add(js, false)
	check(&subs, encOf(schemas.EncodingJSON))
	joining.add(bin1, true)
	joining.add(bin2, false)
	check(&joining, encOf(schemas.EncodingBinary))
	joining.moveTo(&subs)
	check(&joining, 0)
	check(&subs, both)
	subs.remove(bin1)
	check(&subs, both)
	subs.remove(bin2)
	check(&subs, encOf(schemas.EncodingJSON))
	subs.removeAt(0)
	check(&subs, 0)
	if !both.has(schemas.EncodingBinary) || encOf(schemas.EncodingJSON).has(schemas.EncodingBinary) {
		t.Fatal("encSet.has")
	}
}
