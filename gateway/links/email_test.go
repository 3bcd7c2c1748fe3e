package links_test

import (
	"context"
	"errors"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/portico-billing/portico/gateway/links"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/testwait"
	"github.com/portico-billing/portico/keyring"
	"github.com/portico-billing/portico/mail"
	"github.com/portico-billing/portico/mail/mailtest"
	_ "github.com/portico-billing/portico/plugins/standard"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

var srv *etcdtest.Server

func TestMain(m *testing.M) { os.Exit(etcdtest.Main(m, &srv)) }

// emailFixture is an emailer on a store of its own with one tenant whose account acc_7Hq2LmX9
// (Globex, billing@globex.example, German) has an email, and acc_noemail has none.
type emailFixture struct {
	store  *tenants.Store
	tenant *tenants.Tenant
	smtp   *mailtest.Server
	e      *links.Emailer
}

func newEmailFixture(t *testing.T, withMail bool) *emailFixture {
	t.Helper()
	ctx := context.Background()
	s, err := tenants.Open(ctx, tenants.Config{RequestTimeout: testwait.Patience, Client: srv.Client(t), Prefix: etcdtest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.EnsureSealKey(ctx); err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.Follow(s)
	if err != nil {
		t.Fatal(err)
	}
	tn, err := s.CreateTenant(ctx, &tenants.Tenant{Slug: "acme", Name: "Acme", Portal: tenants.DefaultPortal()})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../tenants/account/testdata/account.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, edit := range []func(*account.Account){func(*account.Account) {}, func(a *account.Account) { a.ID, a.Alias, a.Email = "acc_noemail", "", "" }} {
		a, err := account.Decode(doc)
		if err != nil {
			t.Fatal(err)
		}
		edit(a)
		if _, _, err := s.PutAccount(ctx, tn.ID, a, 0); err != nil {
			t.Fatal(err)
		}
	}
	// Mid-hour, so that the sends of a test share one clock hour.
	now := time.Now().Truncate(time.Hour).Add(30 * time.Minute)
	f := &emailFixture{store: s, tenant: tn}
	f.e = &links.Emailer{Store: s, MaxPerHour: 2, Now: func() time.Time { return now },
		Issuer: &links.Issuer{Store: s, URLs: links.URLs{BaseDomain: "portal.test"}, Keyring: kr, Now: func() time.Time { return now }}}
	if withMail {
		f.smtp = mailtest.Start(t, mailtest.Options{})
		if f.e.Mail, err = mail.New(mail.Config{Addr: f.smtp.Addr, TLS: mail.TLSNone, From: "Billing <billing@acme.example>", Timeout: testwait.Patience}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *emailFixture) send(t *testing.T, accountID, locale string) (*links.Result, string, error) {
	t.Helper()
	return f.e.EmailPortalLink(context.Background(), f.tenant, accountID, locale, "test")
}

func (f *emailFixture) counted(t *testing.T, accountID string) int {
	t.Helper()
	n, err := f.store.LinkEmailCount(context.Background(), f.tenant.ID, accountID, f.e.Now())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestEmailerRefusals: a send that cannot happen says why (the sentinel the API and the dashboard
// answer on), sends nothing and counts nothing.
func TestEmailerRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, account, locale string
		noMail                bool
		want                  error
	}{
		{name: "mail not configured", account: "acc_7Hq2LmX9", noMail: true, want: links.ErrMailNotConfigured},
		{name: "unknown account", account: "acc_unknown", want: tenants.ErrAccountNotFound},
		{name: "no billing email", account: "acc_noemail", want: links.ErrNoEmail},
		{name: "malformed locale", account: "acc_7Hq2LmX9", locale: "not a tag!", want: links.ErrBadLocale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newEmailFixture(t, !tc.noMail)
			if f.e.Configured() == tc.noMail {
				t.Errorf("Configured() = %v with mail %v", f.e.Configured(), !tc.noMail)
			}
			if _, _, err := f.send(t, tc.account, tc.locale); !errors.Is(err, tc.want) {
				t.Fatalf("EmailPortalLink: %v, want %v", err, tc.want)
			}
			if f.smtp != nil && f.smtp.Pending() != 0 {
				t.Error("an email was sent")
			}
			if n := f.counted(t, tc.account); tc.account != "acc_unknown" && n != 0 {
				t.Errorf("%d emails counted", n)
			}
		})
	}
}

// TestEmailerSendsAndCountsOnlySentEmails: the email goes to the billing email in the language
// asked for and links the portal; a send the SMTP server refuses does not count toward the hourly
// limit; past the limit the send is refused with the time of the next clock hour.
func TestEmailerSendsAndCountsOnlySentEmails(t *testing.T) {
	t.Parallel()
	f := newEmailFixture(t, true)
	f.smtp.Reject(errors.New("mailbox unavailable"))
	for range 3 {
		if _, _, err := f.send(t, "acc_7Hq2LmX9", ""); err == nil || errors.Is(err, links.ErrRateLimited) {
			t.Fatalf("refused send: %v, want the SMTP server's error", err)
		}
	}
	if n := f.counted(t, "acc_7Hq2LmX9"); n != 0 {
		t.Fatalf("%d refused sends counted", n)
	}
	f.smtp.Reject(nil)
	for i := range f.e.Limit() {
		res, to, err := f.send(t, "acc_7Hq2LmX9", "ja")
		if err != nil || to != "billing@globex.example" {
			t.Fatalf("send %d: %q, %v", i+1, to, err)
		}
		msg := f.smtp.Next(t)
		p, err := mailtest.Parse(msg.Data)
		if err != nil {
			t.Fatal(err)
		}
		if want := i18n.ForLocale("ja").T("email.portalLink.subject", "tenant", "Acme"); p.Subject != want || msg.To[0] != to {
			t.Errorf("mail to %v with subject %q, want %q", msg.To, p.Subject, want)
		}
		if link := regexp.MustCompile(`https://acme\.portal\.test/s/[A-Za-z0-9_-]{43}`).FindString(p.Text); link != res.SessionURL {
			t.Errorf("the email links %q, want the issued %q", link, res.SessionURL)
		}
		if n := f.counted(t, "acc_7Hq2LmX9"); n != i+1 {
			t.Errorf("after send %d: %d counted", i+1, n)
		}
	}
	_, _, err := f.send(t, "acc_7Hq2LmX9", "")
	var rl *links.RateLimitError
	if !errors.As(err, &rl) || !errors.Is(err, links.ErrRateLimited) {
		t.Fatalf("send past the limit: %v, want a RateLimitError", err)
	}
	if want := f.e.Now().Truncate(time.Hour).Add(time.Hour); rl.Limit != 2 || !rl.RetryAt.Equal(want) {
		t.Errorf("RateLimitError{%d, %v}, want {2, %v}", rl.Limit, rl.RetryAt, want)
	}
	if f.smtp.Pending() != 0 {
		t.Error("an email was sent past the limit")
	}
}
