package schemas

import "strconv"

// Reason classifies why DecodeRecord rejected a Kafka record. Consumers
// count skipped records by reason; the values are stable (kafka.md).
type Reason string

// Decode failure reasons.
const (
	// ReasonInvalidJSON: not one well-formed JSON object (syntax error,
	// invalid UTF-8, trailing data, nesting deeper than 64 levels).
	ReasonInvalidJSON Reason = "invalid_json"
	// ReasonUnknownType: "type" is a string but not a known record type.
	ReasonUnknownType Reason = "unknown_type"
	// ReasonMissingField: a required field is absent.
	ReasonMissingField Reason = "missing_field"
	// ReasonInvalidField: wrong JSON type, bad symbol, scale out of 0..18,
	// bad side/status, empty delta, zero size in a snapshot level or a
	// trade, tick/lot size not > 0 or not expressible at its scale,
	// trade_id or base/quote too long. (Two levels of a snapshot side at
	// one price are rejected by the consumer, as duplicate_level, once the
	// prices are integers at the instrument's scale.)
	ReasonInvalidField Reason = "invalid_field"
	// ReasonBadDecimal: a decimal string is not -?[0-9]+(\.[0-9]+)?.
	ReasonBadDecimal Reason = "bad_decimal"
	// ReasonNegativeSize: a level or trade size carries a minus sign.
	ReasonNegativeSize Reason = "negative_size"
)

// DecodeError is the error returned by DecodeRecord.
type DecodeError struct {
	// Reason classifies the failure.
	Reason Reason
	// Field is the offending top-level field ("seq", "bids"...); empty for
	// invalid_json.
	Field string
	// Detail is a human-readable description. It quotes at most a short
	// prefix of the offending input.
	Detail string
}

// Error returns e as `schemas: invalid_field "seq": detail`.
func (e *DecodeError) Error() string {
	if e.Field == "" {
		return "schemas: " + string(e.Reason) + ": " + e.Detail
	}
	return "schemas: " + string(e.Reason) + " " + strconv.Quote(e.Field) + ": " + e.Detail
}

// maxQuote bounds how much of the input an error message quotes.
const maxQuote = 32

// quote returns b as a Go-quoted string, truncated to maxQuote bytes.
func quote(b []byte) string {
	if len(b) > maxQuote {
		return strconv.Quote(string(b[:maxQuote])) + "..."
	}
	return strconv.Quote(string(b))
}

// ProtocolError is a client error that the server reports with an error
// message (type "error") carrying Code, Message and Channel.
type ProtocolError struct {
	// Code is one of the Code* constants.
	Code string
	// Message is a human-readable description.
	Message string
	// Channel is the channel the error concerns; empty when none.
	Channel string
}

// Error returns e as "schemas: code: message".
func (e *ProtocolError) Error() string {
	return "schemas: " + e.Code + ": " + e.Message
}
