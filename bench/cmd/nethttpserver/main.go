// Command nethttpserver is the "usual alternative" contestant of Portico's benchmark: the same
// customer page written the way a Go team typically would — net/http, a session looked up by cookie
// in an in-memory map, the account document held in memory, a view model built and html/template
// executed on every request (into a buffer, so a template error never sends half a page). Nothing
// rendered is cached. It shares Portico's account model (tenants/account: pricing) and formatting
// helpers (i18n.Money, i18n.Date). It renders the seed's three sections (plan, invoices, billing
// details) of the example account, as Portico's page had when it was written; Portico's page has
// grown since (usage, bills that explain themselves), so this contestant now does less work per
// request than Portico and serves fewer bytes (the report's bytes/request say how many).
package main

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"flag"
	"fmt"
	"html/template"
	"log"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/tenants/account"
)

//go:embed page.html
var pageHTML string

var page = template.Must(template.New("page").Parse(pageHTML))

type session struct {
	accountID string
	csrf      string
	expires   time.Time
}

type server struct {
	tenantName string
	mu         sync.RWMutex
	sessions   map[string]*session
	accounts   map[string]*account.Account
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8082", "listen address")
	acctFile := flag.String("account", "tenants/account/testdata/account.json", "account document")
	sid := flag.String("session", "", "session id to accept as the sid cookie (default: random, printed)")
	others := flag.Int("other-sessions", 10_000, "other sessions in the map")
	flag.Parse()
	b, err := os.ReadFile(*acctFile)
	if err != nil {
		log.Fatal(err)
	}
	a, err := account.Decode(b)
	if err != nil {
		log.Fatal(err)
	}
	s := &server{tenantName: "Acme Cloud", sessions: map[string]*session{}, accounts: map[string]*account.Account{a.ID: a}}
	for range *others {
		s.sessions[randHex(24)] = &session{accountID: a.ID, csrf: randHex(16), expires: time.Now().Add(time.Hour)}
	}
	if *sid == "" {
		*sid = randHex(24)
	}
	s.sessions[*sid] = &session{accountID: a.ID, csrf: randHex(16), expires: time.Now().Add(time.Hour)}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.customerPage)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "nethttpserver ready on %s, cookie sid=%s\n", ln.Addr(), *sid)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second}
	log.Fatal(srv.Serve(ln))
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *server) customerPage(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie("sid")
	if err != nil {
		http.Error(w, "Your session has ended", http.StatusUnauthorized)
		return
	}
	s.mu.RLock()
	sess := s.sessions[c.Value]
	var acct *account.Account
	if sess != nil {
		acct = s.accounts[sess.accountID]
	}
	s.mu.RUnlock()
	if sess == nil || time.Now().After(sess.expires) || acct == nil {
		http.Error(w, "Your session has ended", http.StatusUnauthorized)
		return
	}
	var buf bytes.Buffer
	if err := page.ExecuteTemplate(&buf, "page", s.view(acct, sess)); err != nil {
		log.Printf("rendering: %v", err)
		http.Error(w, "Something went wrong", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Write(buf.Bytes())
}

// The view model of the page.
type (
	view struct {
		Lang, TenantName, CSRF                string
		CSSVersion, ThemeVersion, LogoVersion string
		Account                               *account.Account
		Subscriptions                         []subView
		Invoices                              []invoiceView
		Address                               []string
		PaymentMethods                        []pmView
		AutoPay                               string
	}
	subView struct {
		Index                              int
		ID, Name, Status, StatusLabel      string
		NextCharge, NextChargeDate, Period string
		CanCancel                          bool
		Items                              []itemView
	}
	itemView struct {
		Product, Model, Quantity, UnitPrice, Amount string
		Tiers                                       []tierView
	}
	tierView struct {
		Range, Quantity, UnitPrice, Amount string
		Applied                            bool
	}
	invoiceView struct {
		ID, Number, IssueDate, DueDate, Total, Status, StatusLabel string
		issued                                                     string
	}
	pmView struct {
		ID, Label, Expiry string
		Default           bool
	}
)

var (
	statusLabels  = map[string]string{"active": "Active", "trialing": "Trialing", "past_due": "Past due", "paused": "Paused", "canceled": "Canceled", "ended": "Ended", "issued": "Issued", "paid": "Paid", "overdue": "Overdue", "void": "Void"}
	modelLabels   = map[string]string{"flat": "Flat fee", "per_unit": "Per unit", "tiered": "Tiered", "volume": "Volume", "fee": "One-off fee"}
	countries     = map[string]string{"DE": "Germany", "US": "United States", "GB": "United Kingdom", "FR": "France"}
	brands        = map[string]string{"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express"}
	paymentLabels = map[string]string{"sepa_debit": "SEPA Direct Debit", "us_bank_account": "US bank account", "bacs_debit": "Bacs Direct Debit", "paypal": "PayPal"}
)

func (s *server) view(a *account.Account, sess *session) *view {
	loc := a.Locale
	lang, _, _ := strings.Cut(loc, "-")
	v := &view{Lang: lang, TenantName: s.tenantName, CSRF: sess.csrf, CSSVersion: "40b2827361d7", ThemeVersion: "5", LogoVersion: "00dd4f5efff3c994", Account: a}
	for i := range a.Subscriptions {
		sub := &a.Subscriptions[i]
		sv := subView{Index: i + 1, ID: sub.ID, Name: sub.Name, Status: sub.Status, StatusLabel: statusLabels[sub.Status],
			NextChargeDate: i18n.Date(sub.NextChargeDate.Civil(), loc),
			Period:         i18n.Date(sub.CurrentPeriodStart.Civil(), loc) + " – " + i18n.Date(sub.CurrentPeriodEnd.Civil(), loc),
			CanCancel:      sub.Cancellable()}
		if n, err := sub.NextCharge(); err == nil {
			sv.NextCharge = i18n.Money(n, a.Currency, loc)
		}
		for j := range sub.Items {
			sv.Items = append(sv.Items, itemOf(&sub.Items[j], a.Currency, loc))
		}
		v.Subscriptions = append(v.Subscriptions, sv)
	}
	for i := range a.Invoices {
		inv := &a.Invoices[i]
		if !inv.Visible() {
			continue
		}
		v.Invoices = append(v.Invoices, invoiceView{ID: inv.ID, Number: inv.Number, IssueDate: i18n.Date(inv.IssueDate.Civil(), loc), DueDate: i18n.Date(inv.DueDate.Civil(), loc),
			Total: i18n.Money(inv.Total, a.InvoiceCurrency(inv), loc), Status: inv.Status, StatusLabel: statusLabels[inv.Status], issued: string(inv.IssueDate)})
	}
	sort.SliceStable(v.Invoices, func(i, j int) bool { return v.Invoices[i].issued > v.Invoices[j].issued })
	if c := a.Company; c != nil && c.Address != nil {
		ad := c.Address
		for _, l := range []string{ad.Line1, ad.Line2, strings.TrimSpace(ad.PostalCode + " " + ad.City), countries[ad.Country]} {
			if l != "" {
				v.Address = append(v.Address, l)
			}
		}
	}
	var defaultLabel string
	for _, pm := range a.PaymentMethods {
		p := pmView{ID: pm.ID, Default: pm.Default}
		if pm.Type == "card" {
			p.Label = brands[pm.Brand] + " •••• " + pm.Last4
			p.Expiry = fmt.Sprintf("%02d/%d", pm.ExpMonth, pm.ExpYear)
		} else {
			p.Label = paymentLabels[pm.Type]
			if pm.BankName != "" {
				p.Label += ", " + pm.BankName
			}
			p.Label += " •••• " + pm.Last4
		}
		if pm.Default {
			defaultLabel = p.Label
		}
		v.PaymentMethods = append(v.PaymentMethods, p)
	}
	v.AutoPay = "Off"
	if ap := a.AutoPay; ap != nil && ap.Enabled {
		when := "when an invoice is issued"
		if ap.Timing == "on_due_date" {
			when = "on the due date"
		}
		v.AutoPay = "On — charged " + when + " to " + defaultLabel
	}
	return v
}

func itemOf(it *account.Item, cur, loc string) itemView {
	out := itemView{Product: it.Product, Model: modelLabels[it.PricingModel]}
	if it.PricingModel != "flat" {
		out.Quantity = quantity(it.Quantity, it.Unit, loc)
	}
	c, err := it.Charge()
	if err != nil {
		out.Amount = "Not available"
		return out
	}
	out.Amount = i18n.Money(c.Amount, cur, loc)
	if len(c.Tiers) == 0 {
		out.UnitPrice = price(c.UnitPrice, cur, loc)
		return out
	}
	for _, tc := range c.Tiers {
		t := tierView{Applied: tc.Units > 0, UnitPrice: price(tc.UnitPrice, cur, loc)}
		if tc.To < 0 {
			t.Range = i18n.Number(tc.From, loc) + " and above"
		} else {
			t.Range = i18n.Number(tc.From, loc) + " – " + i18n.Number(tc.To, loc)
		}
		if t.Applied {
			t.Quantity = quantity(tc.Units, it.Unit, loc)
			t.Amount = i18n.Money(tc.Amount, cur, loc)
		}
		out.Tiers = append(out.Tiers, t)
	}
	return out
}

func price(p account.Price, cur, loc string) string {
	if n, ok := p.Integral(); ok {
		return i18n.Money(n, cur, loc)
	}
	return i18n.Decimal(p.Decimal(), cur, loc)
}

func quantity(n int64, unit, loc string) string {
	q := i18n.Number(n, loc)
	if unit != "" {
		q += " " + unit
	}
	return q
}
