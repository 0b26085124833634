package httpapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Serve answers h's requests on ln until ctx ends, then shuts down
// gracefully: the listener closes, idle connections are closed, and
// requests in flight finish (for up to grace, after which their
// connections are closed). It returns nil after a graceful shutdown.
// The server times out slow clients: 5s to send headers, 30s for a whole
// request, 60s to write an answer.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	if err != nil {
		srv.Close()
		return err
	}
	return nil
}
