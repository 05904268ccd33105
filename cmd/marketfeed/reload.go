package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/marketfeed/marketfeed/server"
)

// reloadOnHangup reloads the server's key file on every SIGHUP until ctx
// ends.
func reloadOnHangup(ctx context.Context, srv *server.Server, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := srv.ReloadKeys(); err != nil {
					log.Warn("key file not reloaded; the previous keys stay in force", "err", err)
				}
			}
		}
	}()
}
