package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// MaxReceivedBody bounds the body Handler reads.
const MaxReceivedBody = 1 << 20

// Received is a verified webhook.
type Received struct {
	// ID is the webhook-id: the event id, the same for every attempt.
	ID string
	// Timestamp is the webhook-timestamp: when this attempt was signed.
	Timestamp time.Time
	// Type, EventTime and Data are the envelope's type, timestamp and data.
	Type      string
	EventTime time.Time
	Data      json.RawMessage
	// Header and Body are the request's, as received.
	Header http.Header
	Body   []byte
}

// Handler returns a receiver of Standard Webhooks: it verifies each POST with Verify against
// secrets ("whsec_…"; several during a rotation) and the current time, answers 401 to a bad or
// missing signature, 400 to a body that is not an envelope {"type","timestamp","data"}, and
// otherwise calls onEvent and answers 204.
func Handler(secrets []string, onEvent func(Received)) http.Handler {
	secrets = append([]string(nil), secrets...)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "webhooks are POSTed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxReceivedBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read the body", http.StatusBadRequest)
			return
		}
		if err := Verify(secrets, r.Header, body, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var env envelope
		if err := json.Unmarshal(body, &env); err != nil || env.Type == "" {
			http.Error(w, "the body is not a webhook envelope", http.StatusBadRequest)
			return
		}
		sec, _ := strconv.ParseInt(r.Header.Get(HeaderTimestamp), 10, 64)
		if onEvent != nil {
			onEvent(Received{
				ID: r.Header.Get(HeaderID), Timestamp: time.Unix(sec, 0).UTC(),
				Type: env.Type, EventTime: env.Timestamp, Data: env.Data,
				Header: r.Header.Clone(), Body: body,
			})
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// Listen serves Handler on addr until ctx ends and prints one line per verified event to out:
// "<event time, RFC 3339> <webhook-id> <type> <data as compact JSON>". Unverified requests are
// answered 401 and not printed. It returns nil when ctx ends.
func Listen(ctx context.Context, addr string, secrets []string, out io.Writer) error {
	if len(secrets) == 0 {
		return fmt.Errorf("webhooks: listening: %w: no secret to verify with", ErrSecret)
	}
	for _, s := range secrets {
		if _, err := ParseSecret(s); err != nil {
			return fmt.Errorf("webhooks: listening: %w", err)
		}
	}
	var mu sync.Mutex
	h := Handler(secrets, func(rc Received) {
		var data bytes.Buffer
		if json.Compact(&data, rc.Data) != nil {
			data.Reset()
			data.Write(rc.Data)
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, "%s %s %s %s\n", rc.EventTime.UTC().Format(time.RFC3339), rc.ID, rc.Type, data.Bytes())
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("webhooks: listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("webhooks: serving on %s: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("webhooks: shutting down the listener: %w", err)
	}
	return nil
}
