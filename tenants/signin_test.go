package tenants

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func throttledUntil(t *testing.T, err error) time.Time {
	t.Helper()
	var te *ThrottledError
	if !errors.As(err, &te) || !errors.Is(err, ErrThrottled) {
		t.Fatalf("err = %v, want a *ThrottledError", err)
	}
	return te.Until
}

func TestSignInThrottle(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "acme")
	if _, err := s.CreateAdmin(ctx, tn.ID, "ops@acme.example", goodPassword); err != nil {
		t.Fatal(err)
	}
	// A minute into the next window (the counters' leases are granted on the real clock).
	now := time.Now().Add(SignInWindow).Truncate(SignInWindow).Add(time.Minute)
	windowEnd := now.Truncate(SignInWindow).Add(SignInWindow)
	auth := func(email, addr, pw string, known bool) error {
		_, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: tn.ID, Email: email, Addr: addr, KnownDevice: known}, pw, now)
		return err
	}

	// A known and an unknown email are throttled alike, after the same number of failures.
	for _, email := range []string{"ops@acme.example", "nobody@acme.example"} {
		for i := 1; i <= MaxFailuresPerAccountAddress; i++ {
			if err := auth(email, "192.0.2.1", "wrong password", false); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("%s failure %d: %v", email, i, err)
			}
		}
		if u := throttledUntil(t, auth(email, "192.0.2.1", goodPassword, false)); !u.Equal(windowEnd) {
			t.Fatalf("%s throttled until %v, want the window's end %v", email, u, windowEnd)
		}
	}
	// The owner, from another address, is not locked out by those failures.
	if err := auth("ops@acme.example", "198.51.100.7", goodPassword, false); err != nil {
		t.Fatalf("the owner from another address: %v", err)
	}
	// The record carries no failure count a stranger could drive.
	if b, _ := s.c.Get(ctx, s.k.admin(tn.ID, "ops@acme.example")); strings.Contains(string(b.Kvs[0].Value), "ailed") {
		t.Fatalf("the admin record counts failures: %s", b.Kvs[0].Value)
	}

	// An address that tries many accounts is refused after MaxFailuresPerAddress, whatever the
	// account.
	for i := range MaxFailuresPerAddress {
		if err := auth(fmt.Sprintf("guess%d@acme.example", i), "203.0.113.9", "wrong password", false); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("address failure %d: %v", i+1, err)
		}
	}
	throttledUntil(t, auth("ops@acme.example", "203.0.113.9", goodPassword, false))

	// Many addresses against one account: after MaxFailuresPerAccount only a browser that signed
	// in as the admin before gets through; a new window opens it again.
	// (The account already has MaxFailuresPerAccountAddress failures from the first address.)
	for i := range MaxFailuresPerAccount - MaxFailuresPerAccountAddress {
		if err := auth("ops@acme.example", fmt.Sprintf("198.18.%d.%d", i/4, i%4), "wrong password", false); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("account failure %d: %v", i+1, err)
		}
	}
	throttledUntil(t, auth("ops@acme.example", "198.51.100.7", goodPassword, false))
	if err := auth("ops@acme.example", "198.51.100.7", goodPassword, true); err != nil {
		t.Fatalf("the owner's known browser: %v", err)
	}
	now = windowEnd
	if err := auth("ops@acme.example", "192.0.2.1", goodPassword, false); err != nil {
		t.Fatalf("the next window: %v", err)
	}
}

// A successful sign-in forgets the owner's own typos from that address.
func TestSignInSuccessClearsOwnFailures(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "acme")
	if _, err := s.CreateAdmin(ctx, tn.ID, "ops@acme.example", goodPassword); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	src := SignInSource{TenantID: tn.ID, Email: "ops@acme.example", Addr: "192.0.2.1"}
	for round := range 3 {
		for range MaxFailuresPerAccountAddress - 1 {
			if _, err := s.AuthenticateAdmin(ctx, src, "a typo password", now); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if _, err := s.AuthenticateAdmin(ctx, src, goodPassword, now); err != nil {
			t.Fatalf("round %d, right password: %v", round, err)
		}
	}
}

func TestSignInThrottleHoldsUnderParallelGuesses(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "acme")
	if _, err := s.CreateAdmin(ctx, tn.ID, "ops@acme.example", goodPassword); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	checked := 0
	for range 20 {
		wg.Go(func() {
			_, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: tn.ID, Email: "ops@acme.example", Addr: "192.0.2.1"}, "a wrong guess!", now)
			if !errors.Is(err, ErrBadCredentials) {
				if !errors.Is(err, ErrThrottled) {
					t.Errorf("parallel guess: %v", err)
				}
				return // refused without checking the password
			}
			mu.Lock()
			checked++
			mu.Unlock()
		})
	}
	wg.Wait()
	// Between the check and the count at most cap(hashSlots)-1 other guesses can be in flight.
	if checked < MaxFailuresPerAccountAddress || checked > MaxFailuresPerAccountAddress+cap(hashSlots)-1 {
		t.Fatalf("%d of 20 parallel guesses were checked, want %d (+ at most %d in flight)", checked, MaxFailuresPerAccountAddress, cap(hashSlots)-1)
	}
}
