package gateway

import (
	"context"
	"strconv"
	"time"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/mail"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// Usage alerts (tenants.UsageAlerts, set by the customer in the Usage section): checked when the
// tenant pushes the account's document (PUT /v1/accounts/{id}), off the request's path, and each
// crossing emailed once to the account's billing email over the sign-in mail path (--smtp-addr).
// tenants.Store.DueUsageAlerts records an alert sent before its email goes out, in one Txn, so
// concurrent pushes on any number of instances email it once; a failed send is logged, not
// retried (an alert is a notice, and at most once per threshold and period is what the
// customer was promised).

// maxAlertChecks bounds the checks running at once; a push that finds every slot taken is not
// checked (nothing is recorded, so the next push checks it).
const maxAlertChecks = 16

// alertCheckTimeout bounds one check with its emails.
const alertCheckTimeout = time.Minute

// checkUsageAlerts checks the account's alerts after a push, in the background.
func (g *Gateway) checkUsageAlerts(t *tenants.Tenant, a *account.Account) {
	if g.cfg.SignInMail == nil || a.Email == "" || !hasMeter(a) {
		return
	}
	select {
	case g.alertSlots <- struct{}{}:
	default:
		g.log.Warn("gateway: usage alerts not checked: too many checks running", "tenant", t.ID, "account", a.ID)
		return
	}
	g.alertChecks.Add(1)
	go func() {
		defer func() { <-g.alertSlots; g.alertChecks.Done() }()
		ctx, cancel := context.WithTimeout(context.Background(), alertCheckTimeout)
		defer cancel()
		g.sendUsageAlerts(ctx, t, a.ID)
	}()
}

// WaitAlerts waits for the usage-alert checks running (tests, and a graceful stop).
func (g *Gateway) WaitAlerts() { g.alertChecks.Wait() }

func hasMeter(a *account.Account) bool {
	for i := range a.Subscriptions {
		for j := range a.Subscriptions[i].Items {
			if a.Subscriptions[i].Items[j].Meter != nil {
				return true
			}
		}
	}
	return false
}

// sendUsageAlerts records the alerts the stored document crosses and emails each.
func (g *Gateway) sendUsageAlerts(ctx context.Context, t *tenants.Tenant, accountID string) {
	due, doc, err := g.store.DueUsageAlerts(ctx, t.ID, accountID, time.Now())
	if err != nil {
		g.log.Error("gateway: checking usage alerts", "tenant", t.ID, "account", accountID, "err", err)
		return
	}
	origin := g.urls.Portal(t)
	for _, f := range due {
		msg := mail.PortalLinkMessage{
			To: doc.Email, TenantName: t.Name, AccountName: doc.Name, URL: origin + "/sign-in", Alert: UsageAlertText(f, doc, doc.Locale),
			PrimaryColor: t.Branding.PrimaryColor, AccentColor: t.Branding.AccentColor, AccentTitles: t.Branding.AccentTitles, Locale: doc.Locale,
		}
		if t.Branding.LogoETag != "" {
			msg.LogoURL = origin + "/assets/logo?v=" + t.Branding.LogoETag
		}
		if err := g.cfg.SignInMail.SendPortalLink(ctx, msg); err != nil {
			g.log.Error("gateway: emailing a usage alert", "tenant", t.ID, "account", accountID, "alert", f.Alert.ID, "err", err)
		}
	}
}

// UsageAlertText says what an alert saw, in the language of locale: "API calls reached
// 800,000 calls this period (Dec 1, 2026 – Dec 31, 2026): 80 % of the way through tier 1 (1 call
// – 1,000,000 calls)."
func UsageAlertText(f tenants.Firing, a *account.Account, locale string) string {
	p := i18n.ForLocale(locale)
	unit := f.Item.MeterUnit()
	q := func(n int64) string { return i18n.Quantity(n, unit, locale) }
	period := p.T("usage.period", "start", i18n.Date(f.Subscription.CurrentPeriodStart.Civil(), locale), "end", i18n.Date(f.Subscription.CurrentPeriodEnd.Civil(), locale))
	meter := f.Item.Meter.Name
	switch f.Alert.Kind {
	case tenants.AlertTier:
		rng := q(f.Tier.From) + " – " + q(f.Tier.To)
		return p.T("usageAlert.tier", "meter", meter, "usage", q(f.Value), "period", period, "percent", strconv.Itoa(f.Alert.Percent), "tier", f.Tier.Index+1, "range", rng)
	case tenants.AlertCost:
		return p.T("usageAlert.cost", "meter", meter, "amount", i18n.Money(f.Value, a.Currency, locale), "period", period, "threshold", i18n.Money(f.Threshold, a.Currency, locale))
	}
	return p.T("usageAlert.quantity", "meter", meter, "usage", q(f.Value), "period", period, "threshold", q(f.Threshold))
}
