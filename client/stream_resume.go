package client

import "github.com/marketfeed/marketfeed/schemas"

// Resume across connections. A Stream keeps, between its connections, the
// local book of each book channel and the position of each bbo channel;
// on every reconnection it subscribes with the resume option (websocket.md
// section 3.1): the epoch and seq of the last book or bbo message applied,
// and an empty position for ticker and tickers channels. A book the server
// resumes ("resumed":true) is kept as it is and continues with updates; one
// it does not resume is replaced by the snapshot that follows.

// resumeState is what a Stream keeps from one connection to the next. It
// belongs to Run's goroutine.
type resumeState struct {
	books map[string]*Book // book channels, unless RawBooks
	// bbo holds the epoch and seq of the last bbo message of each bbo
	// channel, until a status says the book is not served.
	bbo map[string]schemas.Resume
	// confirmed holds the channels the server has confirmed at least
	// once: only those are resumed.
	confirmed map[string]bool
	// attempts counts connection attempts, which pick the URL.
	attempts int
}

func newResumeState() *resumeState {
	return &resumeState{books: map[string]*Book{}, bbo: map[string]schemas.Resume{}, confirmed: map[string]bool{}}
}

// nextURL returns the URL of the next connection attempt: the
// configured URLs in turn.
func (rs *resumeState) nextURL(urls []string) string {
	u := urls[rs.attempts%len(urls)]
	rs.attempts++
	return u
}

// position returns the resume option for channel ch, nil when there is
// nothing to resume from: a channel never confirmed, a book not synced,
// a bbo without a message since its last status, trades (whose channel
// starts from now).
func (rs *resumeState) position(ch string) []schemas.Resume {
	if !rs.confirmed[ch] {
		return nil
	}
	kind, _, err := schemas.ParseChannel(ch)
	if err != nil {
		return nil
	}
	switch kind {
	case schemas.ChannelBook:
		if b := rs.books[ch]; b != nil && b.Synced() {
			return []schemas.Resume{{Channel: ch, Epoch: int64(b.Epoch()), Seq: int64(b.Seq()), HasSeq: true}}
		}
	case schemas.ChannelBBO:
		if p, ok := rs.bbo[ch]; ok {
			return []schemas.Resume{p}
		}
	case schemas.ChannelTicker, schemas.ChannelTickers, schemas.ChannelCandles:
		return []schemas.Resume{{Channel: ch}}
	}
	return nil
}

// noteBBO records the position of a bbo message (or forgets it on a
// status of the channel).
func (rs *resumeState) noteBBO(m *schemas.ServerMessage) {
	if m.Type == schemas.TypeBBO {
		rs.bbo[m.Channel] = schemas.Resume{Channel: m.Channel, Epoch: int64(m.Epoch), Seq: int64(m.Seq), HasSeq: true}
	} else {
		delete(rs.bbo, m.Channel)
	}
}
