package wsconn

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gobwas/ws"
)

func TestFrameQueueFullAndWrap(t *testing.T) {
	var q frameQueue
	q.init(16, 1<<20)
	for lap := range 3 {
		for i := range 16 {
			if !q.pushRing(TextFrame([]byte{byte(lap), byte(i)}), Keep) {
				t.Fatalf("lap %d: push %d refused", lap, i)
			}
		}
		if q.pushRing(TextFrame([]byte{0xff}), Keep) {
			t.Fatalf("lap %d: push into a full ring accepted", lap)
		}
		for i := range 16 {
			f, _ := q.pop()
			if len(f) != 4 || f[2] != byte(lap) || f[3] != byte(i) {
				t.Fatalf("lap %d: pop %d = %v", lap, i, f)
			}
		}
		if f, _ := q.pop(); f != nil || q.ready() {
			t.Fatalf("lap %d: empty ring returned %v", lap, f)
		}
	}
}

// TestFrameQueueOverflow fills the ring, spills into the overflow list,
// and checks that every frame comes out once, in order, with its kind,
// and that the ring is used again afterwards.
func TestFrameQueueOverflow(t *testing.T) {
	var q frameQueue
	q.init(16, 100)
	for i := range 116 {
		if !q.push(TextFrame([]byte{byte(i)}), Kind(i%2)) {
			t.Fatalf("push %d refused", i)
		}
	}
	if q.push(TextFrame([]byte{0xff}), Keep) {
		t.Fatal("push beyond the overflow bound accepted")
	}
	for round := range 2 {
		for i := range 116 {
			f, k := q.pop()
			if len(f) != 3 || f[2] != byte(i) || k != Kind(i%2) {
				t.Fatalf("round %d: pop %d = %v kind %d", round, i, f, k)
			}
		}
		if f, _ := q.pop(); f != nil || q.ready() {
			t.Fatalf("round %d: empty queue returned %v", round, f)
		}
		for i := range 116 {
			if !q.push(TextFrame([]byte{byte(i)}), Kind(i%2)) {
				t.Fatalf("round %d: push %d refused", round, i)
			}
		}
	}
}

// TestFrameQueueNoFalseFull is the regression test of a false "full": a
// producer read tail, other producers pushed and the consumer popped past
// that position, and the producer's unsigned comparison with the newer
// head wrapped around. Here producers never have more frames outstanding
// than the ring holds, so the ring is never full and any refusal is the
// bug. In production a refusal evicts a healthy client; so it fails the
// test, with no retry.
func TestFrameQueueNoFalseFull(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	const producers, size = 3, 64
	each := 400_000
	if testing.Short() || raceEnabled {
		each = 100_000
	}
	var q frameQueue
	q.init(size, 0)
	frame := TextFrame([]byte{1})
	var popped [producers]atomic.Int64 // frames of each producer consumed
	var refused atomic.Int64
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := append([]byte(nil), frame...)
			f[2] = byte(p)
			for i := range each {
				// At most size/producers frames of this producer outstanding.
				for int64(i)-popped[p].Load() >= size/producers {
					runtime.Gosched()
				}
				if !q.pushRing(f, Keep) {
					refused.Add(1)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for got := 0; got < producers*each; {
		f, _ := q.pop()
		if f == nil {
			select {
			case <-done:
				if refused.Load() > 0 {
					t.Fatalf("push refused %d times with a ring never full (after %d frames)", refused.Load(), got)
				}
				if f, _ = q.pop(); f == nil {
					t.Fatalf("producers done, %d of %d frames received", got, producers*each)
				}
			default:
				runtime.Gosched()
				continue
			}
		}
		popped[f[2]].Add(1)
		got++
	}
	if refused.Load() > 0 {
		t.Fatalf("push refused %d times with a ring never full", refused.Load())
	}
}

// TestFrameQueueProducers has several goroutines push numbered frames
// through a small ring, which spills into the overflow list, while one
// consumer drains it. As in production, a refused push is a failure (it
// would evict the client): there is none, every frame arrives once, and
// each producer's frames arrive in order.
func TestFrameQueueProducers(t *testing.T) {
	const producers, each = 4, 5000
	var q frameQueue
	q.init(16, producers*each)
	var wg sync.WaitGroup
	var refused atomic.Int64
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
				f = TextFrame(f)
				if !q.push(f, Kind(i%2)) {
					refused.Add(1)
					return
				}
				if i%64 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	next := make([]uint32, producers)
	for got := 0; got < producers*each; {
		f, k := q.pop()
		if f == nil {
			select {
			case <-done:
				if refused.Load() > 0 {
					t.Fatalf("%d pushes refused", refused.Load())
				}
				if !q.ready() {
					t.Fatalf("producers done, %d of %d frames received", got, producers*each)
				}
			default:
				runtime.Gosched()
			}
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
		if k != Kind(i%2) {
			t.Fatalf("producer %d: frame %d of kind %d", p, i, k)
		}
		next[p]++
		got++
	}
	wg.Wait()
	if refused.Load() > 0 {
		t.Fatalf("%d pushes refused", refused.Load())
	}
	if f, _ := q.pop(); f != nil {
		t.Fatalf("extra frame %v", f)
	}
}
