package auth_test

import (
	"errors"
	"testing"

	"github.com/marketfeed/marketfeed/auth"
)

func TestValidatePublicHost(t *testing.T) {
	for _, h := range []string{"feed.example.com", "feed.example.com:8443", "[::1]:8080", "localhost"} {
		if err := auth.ValidatePublicHost(h); err != nil {
			t.Errorf("%q: %v", h, err)
		}
	}
	for _, h := range []string{"https://feed.example.com", "*.example.com", "feed.example.com/ws"} {
		if err := auth.ValidatePublicHost(h); !errors.Is(err, auth.ErrPublicHost) {
			t.Errorf("%q: %v, want ErrPublicHost", h, err)
		}
	}
}
