package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/marketfeed/marketfeed/auth"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
)

// The REST endpoints (schemas/openapi.yaml): the book, the ticker and the
// instrument definitions, read from the same market state as the
// WebSocket streams and encoded by the same encoders, behind the same API
// keys and entitlements.
//
// Every answer says Cache-Control: no-store. A book or ticker is correct
// only at the seq it carries, and the next delta may follow within a
// millisecond, so no cache may serve it again; an answer also depends on
// the caller's key (its entitlements), which a shared cache would leak to
// other callers. There is no ETag for the same reason: revalidating a
// value that changes with every event saves nothing.

// restReadTimeout bounds the wait for a symbol's owner goroutine to read
// its state for one request.
const restReadTimeout = 5 * time.Second

// restError is the body of an error answer.
type restError struct {
	Error restErrorBody `json:"error"`
	// Status and Reason, for a book that is not served, are those of the
	// WebSocket status message: "waiting" or "stale", and why.
	Status string `json:"status,omitempty"`
	Reason string `json:"reason,omitempty"`
}

type restErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// restAccess is what the caller of one request may see: acc nil means
// everything (a server without keys).
type restAccess struct {
	acc *auth.Access
}

// allow checks a read of kind for symbol at depth (0 for other kinds)
// (auth.Access.Allow: the plan's fastest interval does not apply; the
// rate limit bounds polling).
func (a restAccess) allow(kind schemas.ChannelKind, symbol string, depth int) (string, bool) {
	if a.acc == nil {
		return "", true
	}
	msg := a.acc.Allow(kind, symbol, depth)
	return msg, msg == ""
}

// sees reports whether the caller may see symbol at all.
func (a restAccess) sees(symbol string) bool {
	return a.acc == nil || a.acc.Entitlements.Symbol(symbol)
}

// apiRoutes are the routes of the HTTP API by mux pattern, each
// documented in schemas/openapi.yaml (a test holds them to it).
func (s *Server) apiRoutes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"/v1/symbols": func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, s.hub.Symbols())
		},
		"/v1/book/{symbol...}":   s.rest(s.getBook),
		"/v1/ticker/{symbol...}": s.rest(s.getTicker),
		"/v1/trades/{symbol...}": s.rest(s.getTrades),
		"/v1/instruments":        s.rest(s.getInstruments),
	}
}

// rest wraps a REST handler: method, authentication, rate limit, headers.
func (s *Server) rest(h func(http.ResponseWriter, *http.Request, restAccess)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			restFail(w, http.StatusMethodNotAllowed, schemas.CodeInvalidRequest, "method "+r.Method+" not allowed: use GET")
			return
		}
		var a restAccess
		caller := "addr:" + remoteHost(r)
		if s.gate != nil {
			acc, ref := s.gate.Request(r)
			if ref != nil {
				if ref.Status == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", `Bearer realm="marketfeed"`)
				}
				restFail(w, ref.Status, ref.Code, ref.Message)
				return
			}
			a.acc, caller = &acc, acc.Caller
		}
		if !s.restLimit.Allow(caller) {
			w.Header().Set("Retry-After", "1")
			restFail(w, http.StatusTooManyRequests, schemas.CodeRateLimited, "too many requests; try again later")
			return
		}
		h(w, r, a)
	}
}

func remoteHost(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// streamsFor finds the served symbol of the request's path after checking
// that the caller may read kind of it at depth; it has answered when it
// returns nil.
func (s *Server) streamsFor(w http.ResponseWriter, r *http.Request, a restAccess, kind schemas.ChannelKind, depth int) *fanout.Streams {
	symbol := r.PathValue("symbol")
	if !schemas.ValidSymbol(symbol) {
		restFail(w, http.StatusNotFound, schemas.CodeUnknownSymbol, "malformed symbol: expected 1-32 characters of A-Z a-z 0-9 - _ . /")
		return nil
	}
	if msg, ok := a.allow(kind, symbol, depth); !ok {
		restFail(w, http.StatusForbidden, schemas.CodeNotEntitled, msg)
		return nil
	}
	t := s.hub.Streams(symbol)
	if t == nil {
		restFail(w, http.StatusNotFound, schemas.CodeUnknownSymbol, "symbol "+symbol+" is not served")
	}
	return t
}

// getBook answers GET /v1/book/{symbol}?depth=N with the snapshot message
// of the view, as a WebSocket book subscriber at that depth receives it.
func (s *Server) getBook(w http.ResponseWriter, r *http.Request, a restAccess) {
	depth := schemas.DefaultDepth
	if q := r.URL.Query(); q.Has("depth") {
		d, err := strconv.Atoi(q.Get("depth"))
		if err != nil || !schemas.ValidDepth(d) {
			restFail(w, http.StatusBadRequest, schemas.CodeInvalidDepth, fmt.Sprintf("depth %q: want one of 1, 5, 10, 20, 50, 100, 500, 1000", q.Get("depth")))
			return
		}
		depth = d
	}
	t := s.streamsFor(w, r, a, schemas.ChannelBook, depth)
	if t == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), restReadTimeout)
	defer cancel()
	v, err := t.Book(ctx, depth)
	switch {
	case err != nil:
		restUnavailable(w, err)
	case v.State != market.Live:
		restNotServed(w, t.Symbol(), v.State, v.Reason)
	default:
		restRaw(w, v.Message)
	}
}

// getTicker answers GET /v1/ticker/{symbol} with the ticker message as
// the ticker channel sends it now.
func (s *Server) getTicker(w http.ResponseWriter, r *http.Request, a restAccess) {
	t := s.streamsFor(w, r, a, schemas.ChannelTicker, 0)
	if t == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), restReadTimeout)
	defer cancel()
	msg, err := t.Ticker(ctx)
	switch {
	case err != nil:
		restUnavailable(w, err)
	case msg == nil: // no event yet: the book waits for its first snapshot
		st, _ := t.State()
		restNotServed(w, t.Symbol(), st, t.Reason())
	default:
		restRaw(w, msg)
	}
}

// getInstruments answers GET /v1/instruments with the definitions of the
// symbols the caller may see, sorted by symbol.
func (s *Server) getInstruments(w http.ResponseWriter, r *http.Request, a restAccess) {
	ctx, cancel := context.WithTimeout(r.Context(), restReadTimeout)
	defer cancel()
	out, err := s.hub.Instruments(ctx, a.sees)
	if err != nil {
		restUnavailable(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Instruments []fanout.Instrument `json:"instruments"`
	}{out})
}

// restRaw answers 200 with an encoded message, byte for byte.
func restRaw(w http.ResponseWriter, msg []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(msg)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(msg)
}

func restFail(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, restError{Error: restErrorBody{Code: code, Message: msg}})
}

// restNotServed answers 503 for a book that is not served, with its
// status and reason.
func restNotServed(w http.ResponseWriter, symbol string, state market.BookState, reason string) {
	msg := "book " + symbol + " is " + state.String()
	if reason != "" {
		msg += " (" + reason + ")"
	}
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusServiceUnavailable, restError{
		Error:  restErrorBody{Code: schemas.CodeNotServed, Message: msg},
		Status: state.String(), Reason: reason,
	})
}

// restUnavailable answers 503 when the state could not be read.
func restUnavailable(w http.ResponseWriter, err error) {
	w.Header().Set("Retry-After", "1")
	restFail(w, http.StatusServiceUnavailable, schemas.CodeNotServed, "the market state cannot be read now: "+err.Error())
}
