// Package schemas is the single source of truth for marketfeed's wire
// formats, version 1:
//
//   - the Kafka input format (kafka.md, jsonschema/kafka-record.schema.json):
//     Record, DecodeRecord and AppendRecord;
//   - the WebSocket protocol (websocket.md, jsonschema/ws-client-message.schema.json,
//     jsonschema/ws-server-message.schema.json): Command, ParseCommand and
//     AppendCommand for client messages, ServerMessage for server messages,
//     channel names, error codes and close codes;
//   - the REST endpoints (openapi.yaml, embedded as OpenAPI), whose answers
//     are the same server messages;
//   - the AsyncAPI 3.0 document of the WebSocket API (asyncapi.yaml,
//     embedded as AsyncAPI), whose payloads are the JSON Schemas above and
//     whose examples the tests check as they check the specifications';
//     asyncapi-check holds the pinned official parser that validates it
//     (npm ci there, then node validate.mjs ../asyncapi.yaml);
//   - the server's market-data encoders (AppendSnapshot, AppendUpdate,
//     AppendTrades, AppendTicker, AppendLevels), written from the fixed-point
//     book and tested against ServerMessage decoding and the JSON Schema;
//   - the binary encoding of market data (binary.md, marketfeed.sbe.xml):
//     the subprotocols (SubprotocolJSON, SubprotocolBinary), the binary
//     twins of the market-data encoders (AppendBinarySnapshot ...
//     AppendBinaryTickers) and DecodeBinary, tested against the SBE schema
//     and the shared vectors of testdata/protocol/binary.json;
//   - the book checksum (BookChecksum and its pieces AppendChecksumLevel,
//     AppendChecksumLevelFixed and ChecksumSides) and the one JSON string
//     escaper every encoder uses (AppendJSONString).
//
// The encoders append to a caller's buffer and do not allocate when it has
// room (AppendTicker formats its window statistics with the decimal
// package, which does).
//
// The markdown specifications are the normative documents; the JSON Schemas
// describe the same formats for tooling, and the package tests check every
// example of the specifications against both the schemas and the Go code.
//
// DecodeRecord is a single-pass JSON scanner that does not allocate once the
// Record it decodes into has grown to the size of the input: decoded strings
// alias the input bytes (or the Record's own scratch buffer when the JSON
// string contains escapes).
//
// Concurrency: every function is safe for concurrent use. A Record or a
// Command must not be used by more than one goroutine at a time; the byte
// slices of a decoded Record are valid only until the Record is decoded into
// again or the input buffer is reused.
package schemas
