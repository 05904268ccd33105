// Package config is marketfeed's configuration: one set of documented
// defaults, overridden in order by a YAML file, environment variables and
// command-line flags, validated once with errors that name the key.
//
// The defaults and the rules of the keys belong to the packages they
// configure: Default takes its values from their exported defaults
// (server.DefaultListen, feed.DefaultMaxWait, auth.DefaultKeysPoll…), and
// Validate reports the errors of server.Config.Validate (which includes
// the consumer's feed.Config.Validate and the WebSocket hub's
// fanout.Config.Validate) under the key of each field, as a *KeyError
// wrapping the library's error. The file adds rules of its own
// only where it differs from the libraries: every key shows its default,
// so a zero or empty value is refused rather than read as "the default",
// and limits spell "no limit" as -1.
//
// Every setting has a dotted key ("kafka.brokers"). The same key is the
// YAML path in the file, the flag name (-kafka.brokers) and, upper-cased
// with dots as underscores and a MARKETFEED_ prefix, the environment
// variable (MARKETFEED_KAFKA_BROKERS). Keys lists them all; Reference
// renders the table the README shows.
//
// Concurrency: a Config is a plain value; the functions of this package
// are safe for concurrent use.
package config
