package dashboard_test

import (
	"context"
	"encoding/base32"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/portico-billing/portico/gateway/dashboard"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/keyring"
	"github.com/portico-billing/portico/tenants"
)

var (
	secretRE   = regexp.MustCompile(`<code class="totp-secret">([A-Z2-7]+)</code>`)
	pendingRE  = regexp.MustCompile(`name="pending" value="([A-Za-z0-9_-]+)"`)
	recoveryRE = regexp.MustCompile(`<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>`)
)

// code is the TOTP code of secret at the harness's time, shifted by steps.
func (h *harness) code(secret []byte, steps int64) string {
	return tenants.HOTP(secret, uint64(tenants.TOTPStepAt(h.now())+steps), tenants.TOTPDigits)
}

// enrol turns on TOTP for the signed-in agent through Settings → Security and returns the secret
// and the recovery codes.
func (h *harness) enrol(t *testing.T, a *agent) ([]byte, []string) {
	t.Helper()
	page := expect(t, a.get("/settings/security"), 200, "<svg", `autocomplete="one-time-code"`)
	m, p := secretRE.FindStringSubmatch(page), pendingRE.FindStringSubmatch(page)
	if m == nil || p == nil {
		t.Fatalf("the enrolment page has no secret or pending field:\n%s", page)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(m[1])
	if err != nil || len(secret) != tenants.TOTPSecretLen {
		t.Fatalf("secret %q: %v", m[1], err)
	}
	csrf := csrfRE.FindStringSubmatch(page)[1]
	wrong := fmt.Sprintf("%06d", (atoi(h.code(secret, 0))+500000)%1000000)
	expect(t, a.post("/settings/security", url.Values{"csrf": {csrf}, "pending": {p[1]}, "code": {wrong}}), 400, "That code is not right")
	body := expect(t, a.post("/settings/security", url.Values{"csrf": {csrf}, "pending": {p[1]}, "code": {h.code(secret, 0)}}), 200,
		"Two-factor authentication is on.", "Your recovery codes")
	var codes []string
	for _, m := range recoveryRE.FindAllStringSubmatch(body, -1) {
		codes = append(codes, m[1])
	}
	if len(codes) != tenants.RecoveryCodeCount {
		t.Fatalf("%d recovery codes shown:\n%s", len(codes), body)
	}
	return secret, codes
}

func atoi(s string) (n int) {
	fmt.Sscan(s, &n)
	return n
}

// An admin enrols TOTP with the QR code's secret, then signs in with password and code; a wrong or
// reused code is refused, and a recovery code works once.
func TestTwoFactorEnrolAndSignIn(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	secret, codes := h.enrol(t, h.signedIn())

	// Stored sealed and hashed, never in clear.
	ad, err := h.store.Admin(context.Background(), h.acme.ID, "ops@acme.example")
	if err != nil || !ad.HasTOTP() || len(ad.RecoveryCodes) != tenants.RecoveryCodeCount {
		t.Fatalf("admin after enrolment: %+v, %v", ad, err)
	}
	resp, err := dashboard.EtcdForTest().Client(t).Get(context.Background(), h.prefix+"state/admins/"+h.acme.ID+"/ops@acme.example")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("reading the admin record: %v", err)
	}
	raw := string(resp.Kvs[0].Value)
	b32 := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
	for _, s := range append([]string{b32, string(secret), codes[0]}, codes[1:]...) {
		if strings.Contains(raw, s) {
			t.Fatalf("the admin record holds %q in clear: %s", s, raw)
		}
	}

	signIn := func() *agent {
		t.Helper()
		a := h.agent()
		r := a.login("acme", "ops@acme.example", password)
		if r.StatusCode() != 303 || string(r.Header.Peek("Location")) != "/login/code" {
			t.Fatalf("password of an admin with TOTP: %d %q", r.StatusCode(), r.Header.Peek("Location"))
		}
		// Nothing but the code page until the code is given.
		for _, p := range []string{"/customers", "/settings/security", "/settings/api-keys"} {
			if r := a.get(p); r.StatusCode() != 303 || string(r.Header.Peek("Location")) != "/login/code" {
				t.Fatalf("GET %s before the code: %d %q", p, r.StatusCode(), r.Header.Peek("Location"))
			}
		}
		return a
	}
	code := func(a *agent, c string) int {
		t.Helper()
		return a.form("/login/code", "code", c).StatusCode()
	}

	// The enrolment's code (same step) cannot sign in again.
	a := signIn()
	if st := code(a, h.code(secret, 0)); st != 401 {
		t.Fatalf("the enrolment's code again: %d", st)
	}
	h.offset.Add(30)
	wrong := fmt.Sprintf("%06d", (atoi(h.code(secret, 0))+1)%1000000)
	expect(t, a.form("/login/code", "code", wrong), 401, "That code is not right or was already used.")
	if st := code(a, h.code(secret, 0)); st != 303 {
		t.Fatalf("the right code: %d", st)
	}
	expect(t, a.get("/customers"), 200, "Globex Corporation")
	// The same code, from another browser, is refused: each step signs in once.
	if st := code(signIn(), h.code(secret, 0)); st != 401 {
		t.Fatalf("a reused code: %d", st)
	}
	// A code of the previous step is accepted while newer than the last used one: not here.
	if st := code(signIn(), h.code(secret, -1)); st != 401 {
		t.Fatalf("an older step's code: %d", st)
	}
	// A recovery code signs in once.
	b := signIn()
	if st := code(b, strings.ToUpper(codes[3])); st != 303 {
		t.Fatalf("a recovery code: %d", st)
	}
	expect(t, b.get("/settings/security"), 200, "Recovery codes left: 9.")
	if st := code(signIn(), codes[3]); st != 401 {
		t.Fatalf("a recovery code used twice: %d", st)
	}
	logs := h.logs.String()
	for _, s := range append([]string{b32}, codes...) {
		if strings.Contains(logs, s) {
			t.Fatalf("the log holds %q", s)
		}
	}
}

// With --require-2fa an admin without TOTP is sent to enrolment after the password and can do
// nothing else until enrolled; the requirement does not touch admins of other tenants.
func TestRequireTwoFactorForcesEnrolment(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	if _, err := h.store.UpdateTenant(context.Background(), h.acme.ID, func(t *tenants.Tenant) error {
		t.RequireTwoFactor = true
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "the requirement is watched", func() bool { tn, _ := h.store.TenantBySlug("acme"); return tn.RequireTwoFactor })

	a := h.agent()
	r := a.login("acme", "ops@acme.example", password)
	if r.StatusCode() != 303 || string(r.Header.Peek("Location")) != "/settings/security" {
		t.Fatalf("password with 2FA required: %d %q", r.StatusCode(), r.Header.Peek("Location"))
	}
	for _, p := range []string{"/customers", "/settings/api-keys", "/login/code"} {
		if r := a.get(p); r.StatusCode() != 303 || string(r.Header.Peek("Location")) != "/settings/security" {
			t.Fatalf("GET %s before enrolling: %d %q", p, r.StatusCode(), r.Header.Peek("Location"))
		}
	}
	page := expect(t, a.get("/settings/security"), 200, "Your workspace requires two-factor authentication.")
	if strings.Contains(page, `href="/customers"`) {
		t.Fatal("the enrolment page offers the navigation")
	}
	if r := a.post("/settings/api-keys", url.Values{"csrf": {csrfRE.FindStringSubmatch(page)[1]}, "action": {"create"}, "name": {"x"}}); r.StatusCode() != 303 {
		t.Fatalf("a form before enrolling: %d", r.StatusCode())
	}
	h.enrol(t, a)
	expect(t, a.get("/customers"), 200, "Globex Corporation")

	// Another tenant's admin is not asked.
	if r := h.agent().login("initech", "boss@initech.example", password+" 2"); string(r.Header.Peek("Location")) != "/customers" {
		t.Fatalf("another tenant's admin: %d %q", r.StatusCode(), r.Header.Peek("Location"))
	}
}

// Retiring a sealing key keeps TOTP working: the secrets are re-sealed with the newest key first.
func TestTOTPSecretsSurviveSealKeyRetirement(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	secret, _ := h.enrol(t, h.signedIn())
	ctx := context.Background()
	old := h.store.SealKeys()[0].ID
	if _, err := h.store.RotateSealKey(ctx, h.now()); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "the new sealing key is watched", func() bool { return len(h.store.SealKeys()) == 2 })
	var keys []*keyring.Key
	for _, k := range h.store.SealKeys() {
		key, err := keyring.NewKey(k.ID, k.Key)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key)
	}
	ring := new(keyring.Keyring)
	ring.Set(keys)
	if n, err := dashboard.ResealTOTPSecrets(ctx, h.store, ring, []string{h.acme.ID, h.initech.ID}); err != nil || n != 1 {
		t.Fatalf("ResealTOTPSecrets = %d, %v; want 1", n, err)
	}
	if err := h.store.RetireSealKey(ctx, old, h.now(), true); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "the old sealing key is gone", func() bool { return len(h.store.SealKeys()) == 1 })
	a := h.agent()
	if r := a.login("acme", "ops@acme.example", password); string(r.Header.Peek("Location")) != "/login/code" {
		t.Fatalf("password: %d %q", r.StatusCode(), r.Header.Peek("Location"))
	}
	h.offset.Add(30)
	if r := a.form("/login/code", "code", h.code(secret, 0)); r.StatusCode() != 303 {
		t.Fatalf("a code after the key was retired: %d %s", r.StatusCode(), r.Body())
	}
}
