package config

import (
	"log/slog"
	"time"

	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/server"
)

// Server returns the server configuration c describes, logging to log.
func (c *Config) Server(log *slog.Logger) server.Config {
	return server.Config{
		Listen:          c.Listen,
		AdminListen:     c.AdminListen,
		Pprof:           c.Pprof,
		TLSCertFile:     c.TLS.CertFile,
		TLSKeyFile:      c.TLS.KeyFile,
		ShutdownTimeout: time.Duration(c.ShutdownTimeout),
		HTTP: server.HTTPLimits{
			ReadHeaderTimeout: time.Duration(c.HTTP.ReadHeaderTimeout),
			ReadTimeout:       time.Duration(c.HTTP.ReadTimeout),
			WriteTimeout:      time.Duration(c.HTTP.WriteTimeout),
			IdleTimeout:       time.Duration(c.HTTP.IdleTimeout),
			MaxConns:          c.HTTP.MaxConnections,
			MaxConnsPerAddr:   c.HTTP.MaxConnectionsPerAddress,
		},
		Logger:        log,
		Keys:          c.Auth.KeysFile,
		Origins:       c.Auth.Origins,
		PublicHosts:   c.Auth.PublicHosts,
		AnonymousPlan: c.Auth.AnonymousPlan,
		KeysPoll:      time.Duration(c.Auth.KeysPoll),
		RESTBurst:     c.HTTP.RESTBurst,
		RESTEvery:     time.Duration(c.HTTP.RESTEvery),
		FeedDownAfter: time.Duration(c.Kafka.FeedDownAfter),
		SilentAfter:   time.Duration(c.Kafka.SilentAfter),
		History:       market.HistoryLimits{Window: time.Duration(c.History.Window), MaxBytes: c.History.MaxBytes},
		TradeHistory: market.TradeHistoryConfig{
			Window:   time.Duration(c.TradeHistory.Window),
			MaxBytes: c.TradeHistory.MaxBytes,
		},
		Feed: feed.Config{
			Brokers:     c.Kafka.Brokers,
			Topic:       c.Kafka.Topic,
			Partitions:  c.Kafka.Partitions,
			Start:       c.Kafka.Start,
			Lookback:    time.Duration(c.Kafka.Lookback),
			MaxWait:     time.Duration(c.Kafka.MaxWait),
			MaxBytes:    c.Kafka.MaxBytes,
			DialTimeout: time.Duration(c.Kafka.DialTimeout),
			ClientID:    c.Kafka.ClientID,
		},
		WS: fanout.Config{
			MaxConnections:       c.WebSocket.MaxConnections,
			MaxSubscriptions:     c.WebSocket.MaxSubscriptions,
			MaxInvalidMessages:   c.WebSocket.MaxInvalidMessages,
			MaxMessagesPerSecond: c.WebSocket.MaxMessagesPerSec,
			Transport: wsconn.Config{
				MaxMessageSize:     c.WebSocket.MaxMessageSize,
				MaxQueueBytes:      c.WebSocket.MaxQueueBytes,
				QueueFrames:        c.WebSocket.QueueFrames,
				MaxQueueAge:        time.Duration(c.WebSocket.MaxQueueAge),
				SocketSendBuffer:   c.WebSocket.SocketSendBuffer,
				SocketNotSentLowat: c.WebSocket.SocketNotSentLowat,
				DisableCompression: !c.WebSocket.Compression,
				DisablePoller:      !c.WebSocket.Poller,
				CompressMinSize:    c.WebSocket.CompressMinSize,
				PingInterval:       time.Duration(c.WebSocket.PingInterval),
				IdleTimeout:        time.Duration(c.WebSocket.IdleTimeout),
				WriteTimeout:       time.Duration(c.WebSocket.WriteTimeout),
				MaxLifetime:        time.Duration(c.WebSocket.MaxLifetime),
				LifetimeNotice:     time.Duration(c.WebSocket.LifetimeNotice),
			},
		},
	}
}

// Resolve builds the effective configuration: defaults, then the file at
// path (if not empty), then the environment (lookup), then the given
// flags; and validates it.
func Resolve(path string, lookup func(string) (string, bool), flags *Flags) (Config, error) {
	c := Default()
	if path != "" {
		if err := LoadFile(&c, path); err != nil {
			return c, err
		}
	}
	if err := ApplyEnv(&c, lookup); err != nil {
		return c, err
	}
	if flags != nil {
		if err := flags.Apply(&c); err != nil {
			return c, err
		}
	}
	return c, c.Validate()
}
