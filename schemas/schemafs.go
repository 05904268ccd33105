package schemas

import "embed"

// JSONSchemas holds the JSON Schema (draft 2020-12) files of the wire
// formats, for tests and tools that validate messages: open them with the
// paths below.
//
//go:embed jsonschema/*.schema.json
var JSONSchemas embed.FS

// OpenAPI is the OpenAPI 3.1 document of the REST endpoints (YAML). Its
// response schemas refer to the server message schema by its $id.
//
//go:embed openapi.yaml
var OpenAPI []byte

// AsyncAPI is the AsyncAPI 3.0 document of the WebSocket API (YAML). Its
// payloads refer to the JSON Schema files by relative path
// (./jsonschema/...), as laid out in JSONSchemas.
//
//go:embed asyncapi.yaml
var AsyncAPI []byte

// Paths of the schema files inside JSONSchemas.
const (
	// KafkaRecordSchema describes one Kafka record value.
	KafkaRecordSchema = "jsonschema/kafka-record.schema.json"
	// ClientMessageSchema describes one WebSocket client → server message.
	ClientMessageSchema = "jsonschema/ws-client-message.schema.json"
	// ServerMessageSchema describes one WebSocket server → client message.
	ServerMessageSchema = "jsonschema/ws-server-message.schema.json"
)
