package webhooks

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/syncbuf"
)

func TestListen(t *testing.T) {
	t.Parallel()
	secret := NewSecret()
	key, _ := ParseSecret(secret)
	port, err := etcdtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ctx, cancel := context.WithCancel(context.Background())
	var out syncbuf.Buffer
	done := make(chan error, 1)
	go func() { done <- Listen(ctx, addr, []string{secret}, &out) }()

	post := func(id string, ts time.Time, body string, sign bool) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader(body))
		req.Header.Set(HeaderID, id)
		req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
		sig := Sign(key, id, ts, []byte(body))
		if !sign {
			sig = Sign([]byte("another key of 24+ bytes!!"), id, ts, []byte(body))
		}
		req.Header.Set(HeaderSignature, sig)
		for range 100 {
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				return resp.StatusCode
			}
			time.Sleep(20 * time.Millisecond) // the listener may not be up yet
			req.Body, _ = req.GetBody()
		}
		t.Fatalf("cannot reach the listener")
		return 0
	}
	now := time.Now()
	body := `{"type":"subscription.canceled","timestamp":"2026-03-01T12:00:00Z","data":{ "subscriptionId" : "sub_1" }}`
	if c := post("evt_ok", now, body, true); c != http.StatusNoContent {
		t.Errorf("signed request: %d", c)
	}
	if c := post("evt_forged", now, body, false); c != http.StatusUnauthorized {
		t.Errorf("forged request: %d, want 401", c)
	}
	if c := post("evt_old", now.Add(-time.Hour), body, true); c != http.StatusUnauthorized {
		t.Errorf("replayed old request: %d, want 401", c)
	}
	if c := post("evt_notenv", now, `[1,2]`, true); c != http.StatusBadRequest {
		t.Errorf("signed non-envelope: %d, want 400", c)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Listen: %v", err)
	}
	want := `2026-03-01T12:00:00Z evt_ok subscription.canceled {"subscriptionId":"sub_1"}` + "\n"
	if got := out.String(); got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	if err := Listen(context.Background(), addr, []string{"nope"}, &out); err == nil {
		t.Error("Listen with a bad secret started")
	}
}
