package feed

import (
	"errors"
	"testing"
)

// Validate reports every invalid field at once, each as a *FieldError
// wrapping ErrConfig, and accepts what NewConsumer accepts.
func TestValidateReportsEveryField(t *testing.T) {
	if err := (Config{Brokers: []string{"h:1"}}).Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	err := Config{Brokers: []string{"h"}, Start: "middle", MaxWait: -1, Partitions: []int{1, 1}, MaxBytes: MaxMaxBytes + 1}.Validate()
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("%v, want ErrConfig", err)
	}
	fields := map[string]bool{}
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v is no *FieldError", e)
		}
		fields[fe.Field] = true
	}
	for _, f := range []string{"Brokers", "Start", "MaxWait", "Partitions", "MaxBytes"} {
		if !fields[f] {
			t.Errorf("%s not reported: %v", f, err)
		}
	}
	if _, nerr := NewConsumer(Config{Brokers: []string{"h"}, Start: "middle"}, nil); !errors.Is(nerr, ErrConfig) {
		t.Errorf("NewConsumer: %v", nerr)
	}
}
