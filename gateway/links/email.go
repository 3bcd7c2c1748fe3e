package links

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/mail"
	"github.com/portico-billing/portico/tenants"
)

// Errors of Emailer.EmailPortalLink.
var (
	ErrMailNotConfigured = errors.New("links: email is not configured (start portico with --smtp-addr)")
	ErrNoEmail           = errors.New("links: the customer has no billing email")
	// ErrRateLimited is wrapped by *RateLimitError.
	ErrRateLimited = errors.New("links: too many portal links for this customer")
)

// RateLimitError says that a customer was sent Limit links this hour and when the next is allowed.
type RateLimitError struct {
	Limit   int
	RetryAt time.Time
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%v: at most %d per hour; the next one can be sent at %s", ErrRateLimited, e.Limit, e.RetryAt.UTC().Format("15:04 MST"))
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// DefaultMaxEmailsPerHour is Emailer.MaxPerHour's default.
const DefaultMaxEmailsPerHour = 5

// EmailerStore is what an Emailer needs of the data layer: the account's billing email and the
// per-hour count of portal-link emails. *tenants.Store is one.
type EmailerStore interface {
	Account(ctx context.Context, tenantID, accountID string) (*tenants.AccountSnapshot, error)
	LinkEmailCount(ctx context.Context, tenantID, accountID string, now time.Time) (int, error)
	CountLinkEmail(ctx context.Context, tenantID, accountID string, now time.Time) (int, error)
}

var _ EmailerStore = (*tenants.Store)(nil)

// Emailer emails portal links to customers: the dashboard's Send portal link and the API's POST
// /v1/accounts/{id}/portal-link both send through it, so they behave the same. Store and Issuer are
// required; the other fields have usable zero values.
type Emailer struct {
	Store  EmailerStore
	Issuer *Issuer
	// Mail sends the emails; nil: every send fails with ErrMailNotConfigured.
	Mail *mail.Sender
	// MaxPerHour is how many portal-link emails one account may be sent per clock hour, across
	// all instances (default DefaultMaxEmailsPerHour).
	MaxPerHour int
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// Logger receives failures to count a sent email (default slog.Default()).
	Logger *slog.Logger
}

// Configured reports whether the emailer can send at all (it has a mail sender).
func (e *Emailer) Configured() bool { return e.Mail != nil }

// Limit is the number of emails one account may be sent per clock hour.
func (e *Emailer) Limit() int {
	if e.MaxPerHour <= 0 {
		return DefaultMaxEmailsPerHour
	}
	return e.MaxPerHour
}

func (e *Emailer) now() time.Time {
	if e.Now == nil {
		return time.Now()
	}
	return e.Now()
}

// EmailPortalLink issues a new single-use emailed link (tenants.LinkKindEmail: opening it shows a
// Continue page, whose button redeems it) to the account with the tenant's portal defaults and
// emails it to the account's billing email; it returns the link and the address it was sent to.
// Locale, when not empty, is the language of the email and of the portal session (a BCP 47 tag;
// a malformed one gives an error matching ErrBadLocale); empty means the account's, else the
// tenant's. At most Limit links per account per clock hour are sent, counted in etcd across all
// instances once sent (a send the SMTP server refuses does not count; sends in flight together
// may pass the limit by a few). createdBy names the requester for the audit trail
// ("dashboard:<admin email>", "apikey:<id>").
func (e *Emailer) EmailPortalLink(ctx context.Context, t *tenants.Tenant, accountID, locale, createdBy string) (*Result, string, error) {
	if e.Mail == nil {
		return nil, "", ErrMailNotConfigured
	}
	snap, err := e.Store.Account(ctx, t.ID, accountID)
	if err != nil {
		return nil, "", err
	}
	to := snap.Account.Email
	if to == "" {
		return nil, "", ErrNoEmail
	}
	now := e.now()
	n, err := e.Store.LinkEmailCount(ctx, t.ID, accountID, now)
	if err != nil {
		return nil, "", err
	}
	if limit := e.Limit(); n >= limit {
		return nil, to, &RateLimitError{Limit: limit, RetryAt: now.Truncate(time.Hour).Add(time.Hour)}
	}
	res, _, err := e.Issuer.Create(ctx, t, &Request{AccountID: accountID, Locale: locale}, Options{CreatedBy: createdBy, Kind: tenants.LinkKindEmail})
	if err != nil {
		return nil, to, err
	}
	// The email is in the customer's language: the one asked for, else the account's locale, else
	// the tenant's default, else English (the first of them that is a supported language).
	_, lang := i18n.ResolveFormat(locale, snap.Account.Locale, t.DefaultLocale)
	msg := mail.PortalLinkMessage{
		To: to, TenantName: t.Name, AccountName: snap.Account.Name, URL: res.SessionURL, ExpiresAt: res.ExpiresAt,
		PrimaryColor: t.Branding.PrimaryColor, AccentColor: t.Branding.AccentColor, AccentTitles: t.Branding.AccentTitles, Locale: lang,
	}
	if origin, _, ok := strings.Cut(res.SessionURL, "/s/"); ok && t.Branding.LogoETag != "" {
		msg.LogoURL = origin + "/assets/logo?v=" + t.Branding.LogoETag
	}
	// The caller logs the outcome under its own name (the dashboard, the API). The error never
	// holds the link (package mail redacts it).
	if err := e.Mail.SendPortalLink(ctx, msg); err != nil {
		return nil, to, err
	}
	// Only a sent email counts. The email is out: a failure to count it is logged, not reported
	// as a failed send.
	if _, err := e.Store.CountLinkEmail(ctx, t.ID, accountID, now); err != nil {
		log := e.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Warn("links: counting a sent portal-link email", "tenant", t.ID, "account", accountID, "err", err)
	}
	return res, to, nil
}
