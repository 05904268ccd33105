package client

import (
	"fmt"
	"testing"
)

// BenchmarkStreamHandle measures the Stream's work per book update:
// decoding, the continuity check, applying 4 levels to a 20-level book and
// delivering the event.
func BenchmarkStreamHandle(b *testing.B) {
	const ch = "book.BTC-USD"
	ss := &session{
		cfg: StreamConfig{}, h: func(*Event) error { return nil },
		books: map[string]*Book{ch: NewBook(ch)}, pending: map[int64]string{}, resyncing: map[string]bool{}, retryAt: nil,
	}
	snap := `{"type":"snapshot","channel":"book.BTC-USD","seq":0,"bids":[`
	for i := range 20 {
		if i > 0 {
			snap += ","
		}
		snap += fmt.Sprintf(`["%d.10","1.00000000"]`, 64000-i)
	}
	snap += `],"asks":[`
	for i := range 20 {
		if i > 0 {
			snap += ","
		}
		snap += fmt.Sprintf(`["%d.20","1.00000000"]`, 64001+i)
	}
	snap += `]}`
	if err := ss.handle([]byte(snap)); err != nil {
		b.Fatal(err)
	}
	msgs := make([][]byte, 1024)
	for i := range msgs {
		msgs[i] = fmt.Appendf(nil, `{"type":"update","channel":"book.BTC-USD","first_seq":%d,"seq":%d,"ts":1767225600123456,`+
			`"bids":[["63999.10","%d.50000000"],["63990.10","0.00000000"]],"asks":[["64001.20","0.%08d"],["64030.20","2.00000000"]]}`,
			i+1, i+1, i%7+1, i+1)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(msgs[0])))
	seq := 0
	for b.Loop() {
		m := msgs[seq%len(msgs)]
		if seq%len(msgs) == 0 && seq > 0 {
			// Every 1024 updates the sequence restarts with a snapshot
			// (included in the figure).
			ss.books[ch] = NewBook(ch)
			if err := ss.handle([]byte(snap)); err != nil {
				b.Fatal(err)
			}
		}
		if err := ss.handle(m); err != nil {
			b.Fatal(err)
		}
		if !ss.books[ch].Synced() {
			b.Fatal("book lost sync")
		}
		seq++
	}
}
