// Package web serves marketfeed's browser page: a live order-book ladder,
// a candlestick chart with volume at a chosen resolution (static/chart.js,
// drawn on a canvas), a ticker board of every symbol, a trades tape, the
// connection status and an API key field. The files are embedded in the
// binary and need no build step; static/marketfeed.js is a
// dependency-free client module of the WebSocket protocol that browser
// developers may copy into their own UI, with static/book.js (its verified
// local book), static/candles.js (its candle series), static/binary.js
// (the decoder of the binary subprotocol's frames) and static/resume.js
// (its resume across reconnections), which it imports.
//
// Concurrency: the handler is safe for concurrent use; the files are
// read-only.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Files returns the page's files (index.html, app.js, marketfeed.js,
// book.js, binary.js, resume.js, style.css) at the root of the file system.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded directory always exists
	}
	return sub
}

// Handler serves the page at / and its files next to it. Responses ask
// browsers to revalidate, so a new binary's page is picked up at once.
func Handler() http.Handler {
	files := http.FileServerFS(Files())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}
