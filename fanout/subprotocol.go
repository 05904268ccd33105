package fanout

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/schemas"
)

// Subprotocol negotiation (websocket.md section 2.1): a client chooses
// the encoding of its market data with Sec-WebSocket-Protocol. No offer is
// JSON without the header in the response; the first spoken subprotocol
// of an offer, in the client's order, is named in the response; an offer
// of unknown subprotocols only is refused with HTTP 400.

// spoken reports whether the server speaks subprotocol p (the handshake's
// selection function).
func spoken(p string) bool {
	_, ok := schemas.EncodingOf(p)
	return ok && p != ""
}

// negotiate returns the encoding r's offer leads to, before the upgrade
// names it: JSON when r offers nothing. An offer without a subprotocol
// the server speaks is answered with 400 and an unsupported_protocol
// error (counted), and negotiate reports false.
func (h *Hub) negotiate(w http.ResponseWriter, r *http.Request) (schemas.Encoding, bool) {
	offered := wsconn.OfferedSubprotocols(r)
	if len(offered) == 0 {
		return schemas.EncodingJSON, true
	}
	for _, p := range offered {
		if spoken(p) {
			e, _ := schemas.EncodingOf(p)
			return e, true
		}
	}
	h.metrics.ClientErrors.WithLabelValues(schemas.CodeUnsupportedProtocol).Inc()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	body, _ := json.Marshal(&schemas.ServerMessage{Type: schemas.TypeError, Code: schemas.CodeUnsupportedProtocol,
		Message: "none of the offered subprotocols is supported: offer " + strings.Join([]string{schemas.SubprotocolJSON, schemas.SubprotocolBinary}, " or ")})
	_, _ = w.Write(body)
	return 0, false
}
