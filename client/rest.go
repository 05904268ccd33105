package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/marketfeed/marketfeed/schemas"
)

// REST reads the server's REST endpoints (schemas/openapi.yaml): the
// book, the ticker, the instrument definitions and the recent trades,
// each from the same market state as the streams and encoded by the same
// encoders. Decimals stay the exact strings the server sends. A REST is
// safe for concurrent use.
type REST struct {
	// Base is the server's HTTP address, for example
	// http://127.0.0.1:8080. Required.
	Base string
	// APIKey is sent as a bearer token; empty reads as the anonymous
	// plan.
	APIKey string
	// HTTP is the client of the requests. Nil means one with a 10 s
	// timeout.
	HTTP *http.Client
}

// defaultREST is the HTTP client of a REST without one.
var defaultREST = &http.Client{Timeout: 10 * time.Second}

// RESTError is an answer other than 200: its HTTP status and the error
// code (the protocol's: unknown_symbol, not_entitled, rate_limited,
// not_served...) and message of its body; Status and Reason are a book's
// state when it is not served.
type RESTError struct {
	HTTPStatus int
	Code       string
	Message    string
	// Status ("waiting", "stale") and Reason ("gap", ...) of a book that
	// is not served (code not_served).
	Status, Reason string
	// RetryAfter is the answer's Retry-After, zero when none.
	RetryAfter time.Duration
}

// Error describes the status, code and message.
func (e *RESTError) Error() string {
	return fmt.Sprintf("client: REST %d %s: %s", e.HTTPStatus, e.Code, e.Message)
}

// Instrument is a symbol's definition (GET /v1/instruments): tick and
// lot sizes are exact decimals at the instrument's scales.
type Instrument struct {
	Symbol     string `json:"symbol"`
	PriceScale int    `json:"price_scale"`
	SizeScale  int    `json:"size_scale"`
	TickSize   string `json:"tick_size"`
	LotSize    string `json:"lot_size"`
}

// TradesQuery selects recent trades (GET /v1/trades). The zero value
// asks for the server's default: the newest 100 trades.
type TradesQuery struct {
	// SinceID asks for the trades after the trade with this id (at
	// SinceTS when it is set): the next page after an answer's last trade.
	SinceID string
	// SinceTS, when positive, is an exchange time in µs: the trades after
	// it, or the time of SinceID.
	SinceTS int64
	// Limit bounds the trades, 1 to 1000. Zero means the server's default
	// (100).
	Limit int
}

// Book reads the book of symbol at depth (0: the server's default, 20)
// and returns it as a synced Book, checked against its checksum: the
// state a book channel's snapshot at the same seq gives.
func (r *REST) Book(ctx context.Context, symbol string, depth int) (*Book, error) {
	q := url.Values{}
	if depth != 0 {
		q.Set("depth", strconv.Itoa(depth))
	}
	var m schemas.ServerMessage
	if err := r.get(ctx, "/v1/book/"+symbol, q, &m); err != nil {
		return nil, err
	}
	b := NewBook("book." + symbol)
	if err := b.Apply(&m); err != nil {
		return nil, err
	}
	return b, nil
}

// Ticker reads the ticker of symbol: the ticker message as the ticker
// channel sends it now.
func (r *REST) Ticker(ctx context.Context, symbol string) (*schemas.ServerMessage, error) {
	var m schemas.ServerMessage
	if err := r.get(ctx, "/v1/ticker/"+symbol, nil, &m); err != nil {
		return nil, err
	}
	if m.Type != schemas.TypeTicker {
		return nil, fmt.Errorf("client: REST ticker answer of type %q", m.Type)
	}
	return &m, nil
}

// Instruments reads the definitions of the symbols the key's plan
// includes, sorted by symbol.
func (r *REST) Instruments(ctx context.Context) ([]Instrument, error) {
	var out struct {
		Instruments []Instrument `json:"instruments"`
	}
	if err := r.get(ctx, "/v1/instruments", nil, &out); err != nil {
		return nil, err
	}
	return out.Instruments, nil
}

// Trades reads recent trades of symbol, oldest first: each trade the
// object the trades channel sends. The last one is a position from which
// a trades subscription resumes (ResumeAfter).
func (r *REST) Trades(ctx context.Context, symbol string, tq TradesQuery) ([]schemas.TradeMessage, error) {
	q := url.Values{}
	if tq.SinceID != "" {
		q.Set("since", tq.SinceID)
	}
	if tq.SinceTS > 0 {
		q.Set("since_ts", strconv.FormatInt(tq.SinceTS, 10))
	}
	if tq.Limit != 0 {
		q.Set("limit", strconv.Itoa(tq.Limit))
	}
	var m schemas.ServerMessage
	if err := r.get(ctx, "/v1/trades/"+symbol, q, &m); err != nil {
		return nil, err
	}
	if m.Type != schemas.TypeTrades {
		return nil, fmt.Errorf("client: REST trades answer of type %q", m.Type)
	}
	return m.Trades, nil
}

// ResumeAfter returns the resume position of trades channel ch after
// trade tr (for SubscribeOptions.Resume).
func ResumeAfter(ch string, tr schemas.TradeMessage) schemas.Resume {
	return schemas.Resume{Channel: ch, TradeID: tr.ID, TS: tr.TS, HasTrade: true}
}

// get reads path with query q into v, or returns a *RESTError.
func (r *REST) get(ctx context.Context, path string, q url.Values, v any) error {
	u := strings.TrimSuffix(r.Base, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if r.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+r.APIKey)
	}
	hc := r.HTTP
	if hc == nil {
		hc = defaultREST
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, defaultMaxMessageSize))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		e := &RESTError{HTTPStatus: resp.StatusCode}
		var b struct {
			Error          struct{ Code, Message string }
			Status, Reason string
		}
		if json.Unmarshal(body, &b) == nil {
			e.Code, e.Message, e.Status, e.Reason = b.Error.Code, b.Error.Message, b.Status, b.Reason
		}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			e.RetryAfter = time.Duration(s) * time.Second
		}
		return e
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("client: decoding %s: %w", path, err)
	}
	return nil
}
