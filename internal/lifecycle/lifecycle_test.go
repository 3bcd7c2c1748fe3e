package lifecycle

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// recorder is an App that records its starts and stops in a shared log.
type recorder struct {
	name     string
	log      *[]string
	startErr error
	loop     Loop
}

func (r *recorder) Start(ctx context.Context) error {
	if r.startErr != nil {
		return r.startErr
	}
	*r.log = append(*r.log, "start "+r.name)
	return r.loop.Start(ctx, func(ctx context.Context) { <-ctx.Done() })
}

func (r *recorder) Stop() error {
	err := r.loop.Stop()
	*r.log = append(*r.log, "stop "+r.name)
	return err
}

var _ App = (*recorder)(nil)

func TestGroupStopsInReverse(t *testing.T) {
	t.Parallel()
	var log []string
	var g Group
	for _, n := range []string{"store", "webhooks", "dashboard"} {
		if err := g.Start(context.Background(), n, &recorder{name: n, log: &log}); err != nil {
			t.Fatal(err)
		}
	}
	boom := errors.New("boom")
	if err := g.Start(context.Background(), "certificates", &recorder{name: "certificates", log: &log, startErr: boom}); !errors.Is(err, boom) || err.Error() != "starting certificates: boom" {
		t.Fatalf("a failed start: %v", err)
	}
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	want := []string{"start store", "start webhooks", "start dashboard", "stop dashboard", "stop webhooks", "stop store"}
	if !slices.Equal(log, want) {
		t.Fatalf("log %q, want %q", log, want)
	}
	if err := g.Stop(); err != nil || len(log) != len(want) {
		t.Fatalf("a second Stop stopped again: %v %q", err, log)
	}
}

func TestLoop(t *testing.T) {
	t.Parallel()
	var l Loop
	if err := l.Stop(); err != nil {
		t.Fatal("Stop before Start:", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan struct{})
	if err := l.Start(ctx, func(ctx context.Context) { <-ctx.Done(); close(ended) }); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(ctx, func(context.Context) {}); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v", err)
	}
	cancel() // the caller's cancellation does not stop the loop: Stop does
	select {
	case <-ended:
		t.Fatal("the loop ended with the Start context")
	default:
	}
	l.Stop()
	select {
	case <-ended:
	default:
		t.Fatal("Stop returned before the loop ended")
	}
	if err := l.Start(context.Background(), func(context.Context) {}); err != nil {
		t.Fatal("Start after Stop:", err)
	}
	l.Stop()
}
