package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/schemas"
)

// getTrades answers GET /v1/trades/{symbol}?since=ID&since_ts=T&limit=N
// with the symbol's recent trades from its trade history, as one trades
// message of the trades channel (schemas/openapi.yaml): the trades after
// the trade since (at since_ts when given), or after the time since_ts,
// the first limit of them; without either, the newest limit. A since the
// history no longer holds is 410 Gone.
func (s *Server) getTrades(w http.ResponseWriter, r *http.Request, a restAccess) {
	q, msg := parseTradesQuery(r)
	if msg != "" {
		restFail(w, http.StatusBadRequest, schemas.CodeInvalidRequest, msg)
		return
	}
	t := s.streamsFor(w, r, a, schemas.ChannelTrades, 0)
	if t == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), restReadTimeout)
	defer cancel()
	v, err := t.Trades(ctx, q)
	switch {
	case err != nil:
		restUnavailable(w, err)
	case !v.Found:
		restFail(w, http.StatusGone, schemas.CodeInvalidRequest,
			"trade "+strconv.Quote(q.SinceID)+" is not in the recent trades of "+t.Symbol()+"; subscribe to trades with it as resume position, or read without since")
	default:
		restRaw(w, v.Message)
	}
}

// parseTradesQuery reads the parameters of a trades read; msg says what
// is wrong with them.
func parseTradesQuery(r *http.Request) (q fanout.TradesQuery, msg string) {
	p := r.URL.Query()
	if p.Has("since") {
		q.SinceID = p.Get("since")
		if q.SinceID == "" || len(q.SinceID) > schemas.MaxTradeIDLen {
			return q, fmt.Sprintf("since must be a trade id of 1 to %d bytes", schemas.MaxTradeIDLen)
		}
	}
	if p.Has("since_ts") {
		ts, err := strconv.ParseInt(p.Get("since_ts"), 10, 64)
		if err != nil || ts < 0 {
			return q, fmt.Sprintf("since_ts %q: want an exchange time in µs, an integer ≥ 0", p.Get("since_ts"))
		}
		q.SinceTS, q.HasTS = ts, true
	}
	q.Limit = fanout.DefaultTradesLimit
	if p.Has("limit") {
		n, err := strconv.Atoi(p.Get("limit"))
		if err != nil || n < 1 || n > fanout.MaxTradesLimit {
			return q, fmt.Sprintf("limit %q: want an integer from 1 to %d", p.Get("limit"), fanout.MaxTradesLimit)
		}
		q.Limit = n
	}
	return q, ""
}
