// Package config is marketfeed's configuration: one set of documented
// defaults, overridden in order by a YAML file, environment variables and
// command-line flags, validated once with errors that name the key.
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
