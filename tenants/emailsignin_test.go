package tenants

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/tenants/account"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func putEmailAccount(t *testing.T, s *Store, tid, id, email string) {
	t.Helper()
	if _, _, err := s.PutAccount(context.Background(), tid, &account.Account{ID: id, Name: "Account " + id, Email: email, Currency: "EUR"}, 0); err != nil {
		t.Fatalf("PutAccount(%s): %v", id, err)
	}
}

func wantAccounts(t *testing.T, s *Store, tid, email string, want ...string) {
	t.Helper()
	got, err := s.AccountsByEmail(context.Background(), tid, email)
	if err != nil {
		t.Fatalf("AccountsByEmail(%q): %v", email, err)
	}
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("AccountsByEmail(%q) = %v, want %v", email, got, want)
	}
}

// TestAccountsByEmail: the index follows the account's billing email through creation, a change
// of case, a change of address and deletion, per tenant.
func TestAccountsByEmail(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "byemail")
	other := mustTenant(t, s, "byemail-other")
	putEmailAccount(t, s, tn.ID, "acc_a", "Billing@Acme.example")
	putEmailAccount(t, s, tn.ID, "acc_b", "billing@acme.example")
	putEmailAccount(t, s, tn.ID, "acc_c", "other@acme.example")
	putEmailAccount(t, s, other.ID, "acc_x", "billing@acme.example")

	wantAccounts(t, s, tn.ID, " BILLING@acme.EXAMPLE ", "acc_a", "acc_b")
	wantAccounts(t, s, other.ID, "billing@acme.example", "acc_x")
	wantAccounts(t, s, tn.ID, "nobody@acme.example")
	wantAccounts(t, s, tn.ID, "")

	// A change of case keeps the entry; a change of address moves it.
	putEmailAccount(t, s, tn.ID, "acc_a", "BILLING@acme.example")
	wantAccounts(t, s, tn.ID, "billing@acme.example", "acc_a", "acc_b")
	putEmailAccount(t, s, tn.ID, "acc_a", "new@acme.example")
	wantAccounts(t, s, tn.ID, "billing@acme.example", "acc_b")
	wantAccounts(t, s, tn.ID, "new@acme.example", "acc_a")
	// An account whose entry is missing (stored before the index existed) is indexed by its next write.
	if _, err := s.c.Delete(ctx, s.k.emailIndexAccount(tn.ID, emailHash(tn.ID, "new@acme.example"), "acc_a")); err != nil {
		t.Fatal(err)
	}
	wantAccounts(t, s, tn.ID, "new@acme.example")
	putEmailAccount(t, s, tn.ID, "acc_a", "new@acme.example")
	wantAccounts(t, s, tn.ID, "new@acme.example", "acc_a")
	// No email: no entry.
	putEmailAccount(t, s, tn.ID, "acc_a", "")
	wantAccounts(t, s, tn.ID, "new@acme.example")
	// Deleting removes the entry.
	if err := s.DeleteAccount(ctx, tn.ID, "acc_b", 0); err != nil {
		t.Fatal(err)
	}
	wantAccounts(t, s, tn.ID, "billing@acme.example")
	wantAccounts(t, s, other.ID, "billing@acme.example", "acc_x")
	// Deleting the tenant removes its index.
	if err := s.DeleteTenant(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	if r, err := s.c.Get(ctx, s.k.emailIndexTenant(other.ID), withPrefix()...); err != nil || len(r.Kvs) != 0 {
		t.Fatalf("index of a deleted tenant: %v %v", r, err)
	}
}

// TestEmailSignIn: the link and the code of a sign-in are single-use, each uses the other up, the
// fifth wrong code voids it, both expire after SignInCodeTTL, and a later sign-in replaces the
// earlier. Only hashes are stored.
func TestEmailSignIn(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "esi")
	now := time.Now()
	const email = "Billing@acme.example"

	// The link, once; then its code is void too.
	tok, code, err := s.CreateEmailSignIn(ctx, tn.ID, email, []string{"acc_a"}, "de", now)
	if err != nil {
		t.Fatal(err)
	}
	if len(code) != 6 || !ValidToken(tok) {
		t.Fatalf("token %q, code %q", tok, code)
	}
	r, _ := s.c.Get(ctx, s.k.emailSignIns(tn.ID), withPrefix()...)
	for _, kv := range r.Kvs {
		if bytesContain(kv.Key, tok, code) || bytesContain(kv.Value, tok, code) || bytesContain(kv.Value, "billing@acme") {
			t.Fatalf("a secret or the email is stored in the clear: %s = %s", kv.Key, kv.Value)
		}
	}
	if e, err := s.PeekEmailSignInLink(ctx, tn.ID, tok, now); err != nil || e.Accounts[0] != "acc_a" {
		t.Fatalf("Peek = %v %v", e, err)
	}
	if e, err := s.RedeemEmailSignInLink(ctx, tn.ID, tok, now.Add(time.Minute)); err != nil || !slices.Equal(e.Accounts, []string{"acc_a"}) || e.Locale != "de" {
		t.Fatalf("Redeem = %+v %v", e, err)
	}
	if _, err := s.RedeemEmailSignInLink(ctx, tn.ID, tok, now.Add(time.Minute)); !errors.Is(err, ErrLinkUsed) {
		t.Fatalf("second redemption: %v", err)
	}
	if _, err := s.RedeemEmailSignInCode(ctx, tn.ID, email, code, now); !errors.Is(err, ErrSignInCodeWrong) {
		t.Fatalf("code after the link: %v", err)
	}

	// The code, typed in another case of the email, once; then the link is used.
	tok, code, _ = s.CreateEmailSignIn(ctx, tn.ID, email, []string{"acc_a"}, "", now)
	if e, err := s.RedeemEmailSignInCode(ctx, tn.ID, "billing@ACME.example", code, now); err != nil || e.Accounts[0] != "acc_a" {
		t.Fatalf("code = %v %v", e, err)
	}
	if _, err := s.RedeemEmailSignInCode(ctx, tn.ID, email, code, now); !errors.Is(err, ErrSignInCodeWrong) {
		t.Fatalf("code twice: %v", err)
	}
	if _, err := s.RedeemEmailSignInLink(ctx, tn.ID, tok, now); !errors.Is(err, ErrLinkUsed) {
		t.Fatalf("link after the code: %v", err)
	}

	// Four wrong codes leave the right one working; the fifth voids it.
	wrong := func(c string) string {
		if c == "000000" {
			return "000001"
		}
		return "000000"
	}
	for n := 4; n <= 5; n++ {
		_, code, _ = s.CreateEmailSignIn(ctx, tn.ID, email, []string{"acc_a"}, "", now)
		for i := range n {
			if _, err := s.RedeemEmailSignInCode(ctx, tn.ID, email, wrong(code), now); !errors.Is(err, ErrSignInCodeWrong) {
				t.Fatalf("wrong code %d: %v", i+1, err)
			}
		}
		_, err := s.RedeemEmailSignInCode(ctx, tn.ID, email, code, now)
		if n < MaxSignInCodeTries && err != nil {
			t.Fatalf("right code after %d wrong: %v", n, err)
		}
		if n == MaxSignInCodeTries && !errors.Is(err, ErrSignInCodeWrong) {
			t.Fatalf("right code after %d wrong: %v, want void", n, err)
		}
	}

	// Expiry: 15 minutes, for both.
	tok, code, _ = s.CreateEmailSignIn(ctx, tn.ID, email, []string{"acc_a"}, "", now)
	late := now.Add(SignInCodeTTL)
	if _, err := s.RedeemEmailSignInLink(ctx, tn.ID, tok, late); !errors.Is(err, ErrLinkExpired) {
		t.Fatalf("link at 15 min: %v", err)
	}
	if _, err := s.RedeemEmailSignInCode(ctx, tn.ID, email, code, late); !errors.Is(err, ErrSignInCodeWrong) {
		t.Fatalf("code at 15 min: %v", err)
	}
	if _, err := s.RedeemEmailSignInCode(ctx, tn.ID, email, code, late.Add(-time.Second)); err != nil {
		t.Fatalf("code just before 15 min: %v", err)
	}

	// A later sign-in replaces the earlier one's link and code.
	tok1, code1, _ := s.CreateEmailSignIn(ctx, tn.ID, email, []string{"acc_a"}, "", now)
	tok2, _, _ := s.CreateEmailSignIn(ctx, tn.ID, email, []string{"acc_a"}, "", now)
	if _, err := s.RedeemEmailSignInLink(ctx, tn.ID, tok1, now); !errors.Is(err, ErrLinkUsed) {
		t.Fatalf("replaced link: %v", err)
	}
	if _, err := s.RedeemEmailSignInCode(ctx, tn.ID, email, code1, now); !errors.Is(err, ErrSignInCodeWrong) && code1 != "" {
		t.Fatalf("replaced code: %v", err)
	}
	if _, err := s.RedeemEmailSignInLink(ctx, tn.ID, tok2, now); err != nil {
		t.Fatalf("latest link: %v", err)
	}
	// Unknown tokens and emails.
	if _, err := s.RedeemEmailSignInLink(ctx, tn.ID, NewToken(), now); !errors.Is(err, ErrLinkNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
	if _, err := s.RedeemEmailSignInCode(ctx, tn.ID, "nobody@acme.example", "123456", now); !errors.Is(err, ErrSignInCodeWrong) {
		t.Fatalf("unknown email: %v", err)
	}
}

// TestSignInChoice: a choice is taken once, only for one of its accounts.
func TestSignInChoice(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "choice")
	now := time.Now()
	tok, err := s.CreateSignInChoice(ctx, tn.ID, &SignInChoice{Accounts: []string{"acc_a", "acc_b"}, ExpiresAt: now.Add(SignInCodeTTL)})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := s.SignInChoiceOf(ctx, tn.ID, tok, now); err != nil || len(c.Accounts) != 2 {
		t.Fatalf("SignInChoiceOf = %v %v", c, err)
	}
	if _, err := s.SignInChoiceOf(ctx, tn.ID, tok, now.Add(SignInCodeTTL)); !errors.Is(err, ErrLinkNotFound) {
		t.Fatalf("expired choice: %v", err)
	}
	if _, err := s.TakeSignInChoice(ctx, tn.ID, tok, "acc_other", now); !errors.Is(err, ErrSignInNotChosen) {
		t.Fatalf("another account: %v", err)
	}
	if c, err := s.TakeSignInChoice(ctx, tn.ID, tok, "acc_b", now); err != nil || !slices.Equal(c.Accounts, []string{"acc_a", "acc_b"}) {
		t.Fatalf("take: %v", err)
	}
	if _, err := s.TakeSignInChoice(ctx, tn.ID, tok, "acc_a", now); !errors.Is(err, ErrLinkNotFound) {
		t.Fatalf("second take: %v", err)
	}
}

// TestCountSignInMail: the email's limit refuses the next request, for a known and an unknown
// email alike, and another email from the same address still passes.
func TestCountSignInMail(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "mailcount")
	putEmailAccount(t, s, tn.ID, "acc_a", "known@acme.example")
	now := time.Now()
	for _, email := range []string{"known@acme.example", "unknown@acme.example"} {
		for i := range MaxSignInMailsPerEmail {
			if err := s.CountSignInMail(ctx, tn.ID, email, "192.0.2.1", now); err != nil {
				t.Fatalf("%s request %d: %v", email, i+1, err)
			}
		}
		err := s.CountSignInMail(ctx, tn.ID, email, "192.0.2.1", now)
		var limited *SignInLimitedError
		if !errors.Is(err, ErrSignInLimited) || !errors.As(err, &limited) ||
			!limited.Until.After(now) || limited.Until.After(now.Add(SignInMailWindow)) || limited.Until.Unix()%int64(SignInMailWindow/time.Second) != 0 {
			t.Fatalf("%s over the limit: %v, want a refusal until the window's end", email, err)
		}
	}
	// The address has asked 12 times; up to MaxSignInMailsPerAddress it passes for new emails.
	n := 2 * (MaxSignInMailsPerEmail + 1)
	for i := n; i < MaxSignInMailsPerAddress; i++ {
		if err := s.CountSignInMail(ctx, tn.ID, "x"+string(rune('a'+i))+"@acme.example", "192.0.2.1", now); err != nil {
			t.Fatalf("address request %d: %v", i+1, err)
		}
	}
	if err := s.CountSignInMail(ctx, tn.ID, "fresh@acme.example", "192.0.2.1", now); !errors.Is(err, ErrSignInLimited) {
		t.Fatalf("address over its limit: %v", err)
	}
	if err := s.CountSignInMail(ctx, tn.ID, "fresh@acme.example", "192.0.2.2", now); err != nil {
		t.Fatalf("another address: %v", err)
	}
}

func withPrefix() []clientv3.OpOption { return []clientv3.OpOption{clientv3.WithPrefix()} }

// bytesContain reports whether b holds any of the strings.
func bytesContain(b []byte, subs ...string) bool {
	for _, s := range subs {
		if strings.Contains(strings.ToLower(string(b)), strings.ToLower(s)) {
			return true
		}
	}
	return false
}
