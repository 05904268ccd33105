package configerr

import (
	"errors"
	"testing"
)

// A FieldError reads as its package's sentinel, field and reason, and
// errors.Is finds the sentinel and the wrapped error.
func TestFieldError(t *testing.T) {
	errA := errors.New("a: invalid config")
	errB := errors.New("b: invalid config")
	inner := New(errB, "IdleTimeout", nil, "must exceed %v", 3)
	outer := New(errA, "Transport.IdleTimeout", inner, "%s", inner.Reason)
	if got, want := inner.Error(), "b: invalid config: IdleTimeout: must exceed 3"; got != want {
		t.Errorf("inner: %q, want %q", got, want)
	}
	if got, want := outer.Error(), "a: invalid config: Transport.IdleTimeout: must exceed 3"; got != want {
		t.Errorf("outer: %q, want %q", got, want)
	}
	if !errors.Is(outer, errA) || !errors.Is(outer, errB) || errors.Is(inner, errA) {
		t.Errorf("Is: outer %v/%v, inner %v", errors.Is(outer, errA), errors.Is(outer, errB), errors.Is(inner, errA))
	}
	if n := len(inner.Unwrap()); n != 1 {
		t.Errorf("inner unwraps to %d errors", n)
	}
	var fe *FieldError
	if !errors.As(outer, &fe) || fe != outer {
		t.Errorf("As finds %v, want the outermost", fe)
	}
}
