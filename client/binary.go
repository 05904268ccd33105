package client

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/marketfeed/marketfeed/schemas"
)

// message is one complete data message from the server: JSON text, or a
// binary market-data message (schemas/binary.md).
type message struct {
	p      []byte
	binary bool
}

// Decode decodes one server message as received: JSON text, or, if
// binary, a binary market-data message (schemas.DecodeBinary), which
// gives the ServerMessage its JSON twin gives: the same fields, prices and
// sizes as the decimal strings at the message's scales, so books,
// checksums and events are the same in both encodings. A binary message
// of a template this client does not know (a later version's message
// type) decodes to a ServerMessage without Type, as a JSON message of an
// unknown type decodes to one with a Type the client does not know.
func Decode(p []byte, binary bool) (*schemas.ServerMessage, error) {
	m := new(schemas.ServerMessage)
	if !binary {
		if err := json.Unmarshal(p, m); err != nil {
			return nil, fmt.Errorf("client: decoding server message: %w", err)
		}
		return m, nil
	}
	if err := schemas.DecodeBinary(p, m); err != nil {
		if errors.Is(err, schemas.ErrBinaryTemplate) {
			return new(schemas.ServerMessage), nil
		}
		return nil, fmt.Errorf("client: decoding binary server message: %w", err)
	}
	return m, nil
}
