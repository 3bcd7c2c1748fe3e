// Package lifecycle gives Portico's long-lived services one shape, Start and Stop (Caddy's App),
// so that cmd/portico builds them in dependency order, starts them as a list and stops them in
// reverse. It owns no service; webhook delivery, domain re-verification, etcd compaction and the
// dashboard's search indexes implement App with a Loop.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// App is a long-lived service. Start returns once the service runs (its work goes on in the
// background, detached from ctx's cancellation but not from its values); Stop ends that work and
// returns when it has ended. Stop without Start, or twice, does nothing.
type App interface {
	Start(ctx context.Context) error
	Stop() error
}

// ErrStarted is Start's error on a Loop that runs already.
var ErrStarted = errors.New("lifecycle: already started")

// Loop runs one function in the background between Start and Stop. The zero Loop is ready.
type Loop struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// Start runs run in a goroutine with a context that Stop cancels.
func (l *Loop) Start(ctx context.Context, run func(context.Context)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel != nil {
		return ErrStarted
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	l.cancel, l.done = cancel, done
	go func() {
		defer close(done)
		run(ctx)
	}()
	return nil
}

// Stop cancels run's context and waits for run to return.
func (l *Loop) Stop() error {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.cancel, l.done = nil, nil
	l.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-done
	return nil
}

// Group starts apps in order and stops those it started in reverse order. The zero Group is ready.
type Group struct {
	started []named
}

type named struct {
	name string
	app  App
}

// Start starts app, named for errors, after those started before it.
func (g *Group) Start(ctx context.Context, name string, app App) error {
	if err := app.Start(ctx); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	g.started = append(g.started, named{name, app})
	return nil
}

// Stop stops every started app, the last started first, and joins their errors.
func (g *Group) Stop() error {
	var errs []error
	for i := len(g.started) - 1; i >= 0; i-- {
		if err := g.started[i].app.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping %s: %w", g.started[i].name, err))
		}
	}
	g.started = nil
	return errors.Join(errs...)
}

// Background is an App that runs run between Start and Stop, for work with no type of its own.
func Background(run func(context.Context)) App { return &background{run: run} }

type background struct {
	run  func(context.Context)
	loop Loop
}

func (b *background) Start(ctx context.Context) error { return b.loop.Start(ctx, b.run) }
func (b *background) Stop() error                     { return b.loop.Stop() }
