package backend

import (
	"errors"
	"fmt"
	"testing"

	"github.com/portico-billing/portico/tenants"
)

// TestFailureOf: every failure class of Call and StoreAccount, wrapped as they come, has its audit
// name, page and status; anything else is the unexpected 503 the caller logs.
func TestFailureOf(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		err        error
		want       Failure
		unexpected bool
	}{
		{"no backend", fmt.Errorf("loading the backend of %q: %w", "t_1", ErrNoBackend), Failure{"no_backend", "noBackend", 409}, false},
		{"timeout", fmt.Errorf("%w: context deadline exceeded", ErrTimeout), Failure{"timeout", "timeout", 504}, false},
		{"forbidden address", fmt.Errorf("%w: 10.0.0.1", ErrForbiddenAddress), Failure{"forbidden_address", "unreachable", 502}, false},
		{"unreachable", fmt.Errorf("%w: connection refused", ErrUnreachable), Failure{"unreachable", "unreachable", 502}, false},
		{"status", &StatusError{Code: 500}, Failure{"status", "status", 502}, false},
		{"status wrapped", fmt.Errorf("paying: %w", &StatusError{Code: 307}), Failure{"status", "status", 502}, false},
		{"invalid response", fmt.Errorf("%w: unknown result %q", ErrInvalidResponse, "paid"), Failure{"invalid_response", "invalid", 502}, false},
		{"invalid account", fmt.Errorf("%w: currency", ErrInvalidAccount), Failure{"invalid_account", "document", 502}, false},
		{"store unavailable", tenants.Unavailable(errors.New("etcdserver: request timed out")), Failure{"unavailable", "unavailable", 503}, true},
		{"a bug", errors.New("backend: attempt in unknown state"), Failure{"unavailable", "unavailable", 503}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := FailureOf(c.err)
			if got != c.want || got.Unexpected() != c.unexpected {
				t.Errorf("FailureOf(%v) = %+v (unexpected %v), want %+v (unexpected %v)", c.err, got, got.Unexpected(), c.want, c.unexpected)
			}
		})
	}
}

// TestFailureClassStored: a failed attempt stores its class by its audit name and answers a
// replay with the same sentinel.
func TestFailureClassStored(t *testing.T) {
	t.Parallel()
	for _, sentinel := range []error{ErrTimeout, ErrUnreachable, ErrInvalidResponse, ErrForbiddenAddress} {
		a := attempt{State: stateFailed, Failure: failureClass(fmt.Errorf("%w: detail", sentinel)), Detail: "detail"}
		if _, err := a.outcome(true); !errors.Is(err, sentinel) {
			t.Errorf("%v stored as %q replays as %v", sentinel, a.Failure, err)
		}
	}
	if got := failureClass(errors.New("dial: no route")); got != "unreachable" {
		t.Errorf("an error of no class is stored as %q, want unreachable", got)
	}
}
