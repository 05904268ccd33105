package fanout

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"sync"
	"testing"

	"github.com/gobwas/ws"
)

func TestFrameQueueFullAndWrap(t *testing.T) {
	var q frameQueue
	q.init(16)
	for lap := range 3 {
		for i := range 16 {
			if !q.push(textFrame([]byte{byte(lap), byte(i)})) {
				t.Fatalf("lap %d: push %d refused", lap, i)
			}
		}
		if q.push(textFrame([]byte{0xff})) {
			t.Fatalf("lap %d: push into a full ring accepted", lap)
		}
		for i := range 16 {
			f := q.pop()
			if len(f) != 4 || f[2] != byte(lap) || f[3] != byte(i) {
				t.Fatalf("lap %d: pop %d = %v", lap, i, f)
			}
		}
		if f := q.pop(); f != nil || q.ready() {
			t.Fatalf("lap %d: empty ring returned %v", lap, f)
		}
	}
}

// TestFrameQueueProducers has several goroutines push numbered frames
// through a small ring while one consumer drains it: every frame arrives
// once, and each producer's frames arrive in order.
func TestFrameQueueProducers(t *testing.T) {
	const producers, each = 4, 5000
	var q frameQueue
	q.init(32)
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Payload sizes cover the three header forms.
				f := make([]byte, 5+(i%3)*200)
				if i%500 == 0 {
					f = make([]byte, 70000)
				}
				f[0] = byte(p)
				binary.BigEndian.PutUint32(f[1:], uint32(i))
				f = textFrame(f)
				for !q.push(f) {
					runtime.Gosched()
				}
			}
		}()
	}
	next := make([]uint32, producers)
	for got := 0; got < producers*each; {
		f := q.pop()
		if f == nil {
			runtime.Gosched()
			continue
		}
		h, err := ws.ReadHeader(bytes.NewReader(f))
		if err != nil || int(h.Length) != len(f)-ws.HeaderSize(h) {
			t.Fatalf("frame of %d bytes: header %+v, %v", len(f), h, err)
		}
		f = f[ws.HeaderSize(h):]
		p, i := f[0], binary.BigEndian.Uint32(f[1:])
		if i != next[p] {
			t.Fatalf("producer %d: frame %d, want %d", p, i, next[p])
		}
		next[p]++
		got++
	}
	wg.Wait()
	if f := q.pop(); f != nil {
		t.Fatalf("extra frame %v", f)
	}
}
