// Package configerr defines the error of one invalid field of a
// configuration, shared by the packages whose Config has a Validate
// method: each keeps its own ErrConfig sentinel and reports its fields as
// *FieldError values wrapping it. A FieldError is plain data, safe for
// concurrent use once built.
package configerr

import "fmt"

// FieldError is one invalid field of a package's Config.
type FieldError struct {
	// Sentinel is the ErrConfig of the package whose Config holds the
	// field; Error starts with its text and Unwrap returns it.
	Sentinel error
	// Field names the field: "MaxWait", or a path such as
	// "Transport.IdleTimeout" for a field of a nested Config.
	Field string
	// Reason says what is wrong with its value.
	Reason string
	// Err is the error of the rule the value breaks, if another package's
	// (the nested Config's *FieldError, say); nil if none.
	Err error
}

// New returns the *FieldError of field in the package of sentinel, its
// Reason formatted from format and a, wrapping err if not nil.
func New(sentinel error, field string, err error, format string, a ...any) *FieldError {
	return &FieldError{Sentinel: sentinel, Field: field, Reason: fmt.Sprintf(format, a...), Err: err}
}

// Error returns the sentinel's text, the field and the reason, joined by
// ": ".
func (e *FieldError) Error() string { return e.Sentinel.Error() + ": " + e.Field + ": " + e.Reason }

// Unwrap returns the sentinel and, when set, Err.
func (e *FieldError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Sentinel, e.Err}
	}
	return []error{e.Sentinel}
}
