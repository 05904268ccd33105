package client

// BestBid returns the highest bid level, exactly as received; ok is false
// when the book holds no bid.
func (b *Book) BestBid() (price, size string, ok bool) {
	if len(b.bids) == 0 {
		return "", "", false
	}
	return b.bids[0].price, b.bids[0].size, true
}

// BestAsk returns the lowest ask level, exactly as received; ok is false
// when the book holds no ask.
func (b *Book) BestAsk() (price, size string, ok bool) {
	if len(b.asks) == 0 {
		return "", "", false
	}
	return b.asks[0].price, b.asks[0].size, true
}
