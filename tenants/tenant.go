package tenants

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/portico-billing/portico/tenants/account"
	"github.com/portico-billing/portico/theme"
)

// Errors of the tenant concern.
var (
	ErrTenantNotFound = errors.New("tenants: tenant not found")
	ErrSlugTaken      = errors.New("tenants: slug is taken")
	ErrInvalidTenant  = errors.New("tenants: invalid tenant")
	ErrConflict       = errors.New("tenants: concurrent change, try again")
)

// Link and session lifetimes.
const (
	DefaultLinkTTL    = time.Hour
	MinLinkTTL        = 5 * time.Minute
	MaxLinkTTL        = 7 * 24 * time.Hour
	DefaultSessionTTL = time.Hour
	MinSessionTTL     = 5 * time.Minute
	MaxSessionTTL     = 12 * time.Hour
)

// Tenant is a company that uses Portico to give its customers a billing portal.
type Tenant struct {
	// ID is generated at creation ("ten_…") and never changes.
	ID string `json:"id"`
	// Slug is the tenant's DNS label: the portal is served on <slug>.<base-domain>. Unique.
	Slug string `json:"slug"`
	// Name is shown in the portal's header, page titles and emails.
	Name     string         `json:"name"`
	Branding Branding       `json:"branding"`
	Portal   PortalDefaults `json:"portal"`
	// LinkTTL is how long an unused portal link stays valid (default 1 h, 5 min – 7 days).
	LinkTTL Duration `json:"linkTTL"`
	// SessionTTL is how long a portal session lasts after its link is opened (default 1 h, max 12 h).
	SessionTTL Duration `json:"sessionTTL"`
	// DefaultLocale is used when neither the session nor the account names one (default "en").
	DefaultLocale string `json:"defaultLocale,omitempty"`
	// PaymentSetupURL is the tenant's page where a customer adds a payment method (Portico never
	// sees card numbers); empty hides "Add payment method". It must be https.
	PaymentSetupURL string `json:"paymentSetupUrl,omitempty"`
	// FrameAncestors are the origins allowed to embed the portal in a frame ("https://app.acme.com");
	// empty (the default) forbids framing.
	FrameAncestors []string `json:"frameAncestors,omitempty"`
	// RequireTwoFactor makes a second factor (TOTP) mandatory for the tenant's dashboard admins:
	// one without it is sent to enrol after the password and can do nothing else.
	RequireTwoFactor bool `json:"requireTwoFactor,omitempty"`
	// EmailSignIn lets customers sign in on the portal host with their billing email (a link and
	// a code by email; see CreateEmailSignIn). Off by default.
	EmailSignIn bool `json:"emailSignIn,omitempty"`
	// MaxAccountBytes bounds the bytes the tenant's account documents (stored compressed) and
	// catalog take in etcd together; 0 (the default) means DefaultMaxAccountBytes (256 MiB).
	MaxAccountBytes int64 `json:"maxAccountBytes,omitempty"`
	// MaxAccounts bounds the number of the tenant's accounts; 0 (the default) means
	// DefaultMaxAccounts (100,000).
	MaxAccounts int64 `json:"maxAccounts,omitempty"`
	// Seller is who issues the tenant's invoices, named in their "From" block; empty (the
	// default), invoices name the tenant by its Name alone.
	Seller Seller `json:"seller,omitzero"`
	// Source is source mode: the tenant's account documents live in its billing system, fetched
	// through its backend on demand and cached in memory, never stored in etcd (see source.go).
	// Off by default; on needs a registered backend (UpdateTenant: ErrSourceNeedsBackend).
	Source    SourceSettings `json:"source,omitzero"`
	CreatedAt time.Time      `json:"createdAt"`
	UpdatedAt time.Time      `json:"updatedAt"`

	// Revision is the etcd ModRevision the record was read at; set by the store.
	Revision int64 `json:"-"`
	// Memo holds values callers derive from this revision of the tenant (the gateway keeps its
	// rendered page chrome here); it is dropped with the record when the tenant changes.
	Memo Memo `json:"-"`
}

// Memo is a small set of slots for derived values bound to one revision of a record.
type Memo [4]atomic.Value

// Branding is how the portal looks for a tenant.
type Branding struct {
	// PrimaryColor colours titles and the header accent, "#rrggbb" (default "#1f2937").
	PrimaryColor string `json:"primaryColor"`
	// AccentColor colours buttons and links, "#rrggbb" (default "#4f46e5").
	AccentColor string `json:"accentColor"`
	// AccentTitles paints titles and the tenant's name in the accent colour instead of the primary
	// (default false: the primary, darkened where it reads too faintly). It is allowed only while
	// the accent itself reads on the page (theme.Readable, 4.5:1), so titles show the accent as chosen.
	AccentTitles bool `json:"accentTitles,omitempty"`
	// LogoType is the logo's content type, empty when the tenant has no logo.
	LogoType string `json:"logoType,omitempty"`
	// LogoETag identifies the logo bytes (a hash), for HTTP caching.
	LogoETag string `json:"logoETag,omitempty"`
}

// Seller is the party that issues a tenant's invoices, as a business-to-business invoice must name
// it: legal name, postal address and VAT or tax ID. The zero Seller means none is set; one that is
// set has a legal name, and an address that is set has its first line, its city and its country.
type Seller struct {
	// LegalName is the registered name ("Acme Cloud Ltd"), at most 200 characters.
	LegalName string `json:"legalName,omitempty"`
	// Address is the postal address, in the shape of an account's address (Country is an
	// ISO 3166-1 alpha-2 code); invoices write it in the country's usual order.
	Address account.Address `json:"address,omitzero"`
	// TaxID is the VAT or other tax identification number ("GB123456789"), at most 64 characters.
	TaxID string `json:"taxId,omitempty"`
}

// Limits of the seller's fields, in characters (the same as an account's company details).
const (
	MaxSellerName       = 200
	MaxSellerTaxID      = 64
	MaxSellerLine       = 200
	MaxSellerCity       = 100
	MaxSellerRegion     = 100
	MaxSellerPostalCode = 20
)

// IsZero reports whether no seller is set.
func (s Seller) IsZero() bool { return s == Seller{} }

// ValidText reports whether s is text a record may hold in a field of at most max characters:
// valid UTF-8 without control characters.
func ValidText(s string, max int) bool {
	return utf8.ValidString(s) && utf8.RuneCountInString(s) <= max &&
		!strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// problems returns what is wrong with the seller, each named by its JSON path.
func (s Seller) problems() []string {
	if s.IsZero() {
		return nil
	}
	var p []string
	text := func(field, v string, required bool, max int) {
		switch {
		case required && strings.TrimSpace(v) == "":
			p = append(p, fmt.Sprintf("seller.%s is required", field))
		case !ValidText(v, max):
			p = append(p, fmt.Sprintf("seller.%s must be at most %d characters of UTF-8 text without control characters", field, max))
		}
	}
	ad := s.Address
	hasAddress := ad != account.Address{}
	text("legalName", s.LegalName, true, MaxSellerName)
	text("address.line1", ad.Line1, hasAddress, MaxSellerLine)
	text("address.line2", ad.Line2, false, MaxSellerLine)
	text("address.city", ad.City, hasAddress, MaxSellerCity)
	text("address.postalCode", ad.PostalCode, false, MaxSellerPostalCode)
	text("address.region", ad.Region, false, MaxSellerRegion)
	if hasAddress && !account.ValidCountry(ad.Country) {
		p = append(p, fmt.Sprintf("seller.address.country %q is not an ISO 3166-1 alpha-2 country code", ad.Country))
	}
	text("taxId", s.TaxID, false, MaxSellerTaxID)
	return p
}

// PortalDefaults are the section settings a session gets when its request does not say.
type PortalDefaults struct {
	ShowPlanOverview        bool `json:"showPlanOverview"`
	AllowSubscriptionCancel bool `json:"allowSubscriptionCancel"`
	ShowInvoices            bool `json:"showInvoices"`
	ShowBillingDetails      bool `json:"showBillingDetails"`
	AllowDetailsEdit        bool `json:"allowDetailsEdit"`
	AllowAutopayEdit        bool `json:"allowAutopayEdit"`
	// CancelMode is what a customer's cancellation does: "end_of_term" (default) or "immediate".
	CancelMode string `json:"cancelMode,omitempty"`
	// AllowInvoicePayment offers "Pay now" for open invoices (invoiceListSettings.allowPayment).
	// A record stored before the field existed reads true (UnmarshalJSON).
	AllowInvoicePayment bool `json:"allowInvoicePayment"`
	// AllowPlanChange offers "Change plan" on subscriptions that are on a catalog plan
	// (planOverviewSettings.allowPlanChange); AllowQuantityChange offers "Change seats" on their
	// per_unit items (planOverviewSettings.allowQuantityChange). Records stored before the
	// fields existed read true (UnmarshalJSON).
	AllowPlanChange     bool `json:"allowPlanChange"`
	AllowQuantityChange bool `json:"allowQuantityChange"`
	// AllowPause offers "Pause" and "Resume" where the change policy allows pausing
	// (planOverviewSettings.allowPause). A record stored before the field existed reads true.
	AllowPause bool `json:"allowPause"`
	// ShowUsage shows the Usage section (usageSettings.showSection): meters and the wallet;
	// AllowWalletTopUp offers "Top up" on the wallet (usageSettings.allowTopUp). Both were added
	// after tenants existed: a record stored before reads false, so an existing portal does not
	// grow a section its tenant did not turn on; a new tenant (DefaultPortal) has both on.
	ShowUsage        bool `json:"showUsage"`
	AllowWalletTopUp bool `json:"allowWalletTopUp"`
	// AllowTeamManagement lets the account's owners invite colleagues, change their roles and
	// remove them on the portal's Team page (teamSettings.allowTeamManagement). Off unless the
	// tenant turns it on (a record stored before reads false; the demo tenant has it on).
	AllowTeamManagement bool `json:"allowTeamManagement,omitempty"`
}

// UnmarshalJSON decodes portal defaults; a field added after a record was stored takes its
// default (AllowInvoicePayment, AllowPlanChange, AllowQuantityChange, AllowPause: true) instead of false.
func (p *PortalDefaults) UnmarshalJSON(b []byte) error {
	type plain PortalDefaults
	v := plain{AllowInvoicePayment: true, AllowPlanChange: true, AllowQuantityChange: true, AllowPause: true}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = PortalDefaults(v)
	return nil
}

// Cancellation modes.
const (
	CancelEndOfTerm = "end_of_term"
	CancelImmediate = "immediate"
)

// DefaultPortal shows every section and allows every action, as the seed specifies.
func DefaultPortal() PortalDefaults {
	return PortalDefaults{ShowPlanOverview: true, AllowSubscriptionCancel: true, ShowInvoices: true, ShowBillingDetails: true,
		AllowDetailsEdit: true, AllowAutopayEdit: true, CancelMode: CancelEndOfTerm, AllowInvoicePayment: true,
		AllowPlanChange: true, AllowQuantityChange: true, AllowPause: true, ShowUsage: true, AllowWalletTopUp: true}
}

// Default branding colours.
const (
	DefaultPrimaryColor = "#1f2937"
	DefaultAccentColor  = "#4f46e5"
)

// Duration is a time.Duration that reads and writes JSON as "1h30m".
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

var (
	slugRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

// reservedSlugs are host labels Portico uses itself or that would confuse customers.
var reservedSlugs = map[string]bool{
	"api": true, "dashboard": true, "www": true, "admin": true, "portal": true, "mail": true,
	"status": true, "static": true, "assets": true,
}

// ValidSlug reports whether s can be a tenant slug: a lower-case DNS label Portico does not reserve.
func ValidSlug(s string) bool { return slugRE.MatchString(s) && !reservedSlugs[s] }

// ValidOrigin reports whether s is an https origin: scheme and host (and port), nothing else, with
// no character that could break out of a header.
func ValidOrigin(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.Path == "" && u.RawQuery == "" && u.Fragment == "" &&
		u.User == nil && u.Opaque == "" && s == "https://"+u.Host && !strings.ContainsAny(s, " ;,'\"\r\n")
}

// ValidColor reports whether s is a "#rrggbb" colour.
func ValidColor(s string) bool { return colorRE.MatchString(s) }

// normalize fills defaults of a new or updated tenant.
func (t *Tenant) normalize() {
	t.Branding.PrimaryColor = strings.ToLower(t.Branding.PrimaryColor)
	t.Branding.AccentColor = strings.ToLower(t.Branding.AccentColor)
	if t.Branding.PrimaryColor == "" {
		t.Branding.PrimaryColor = DefaultPrimaryColor
	}
	if t.Branding.AccentColor == "" {
		t.Branding.AccentColor = DefaultAccentColor
	}
	if t.LinkTTL == 0 {
		t.LinkTTL = Duration(DefaultLinkTTL)
	}
	if t.SessionTTL == 0 {
		t.SessionTTL = Duration(DefaultSessionTTL)
	}
	if t.DefaultLocale == "" {
		t.DefaultLocale = "en"
	}
	if t.Portal.CancelMode == "" {
		t.Portal.CancelMode = CancelEndOfTerm
	}
}

// Validate checks a tenant record; the error names every problem.
func (t *Tenant) Validate() error {
	var p []string
	if !ValidSlug(t.Slug) {
		p = append(p, fmt.Sprintf("slug %q must be a lower-case DNS label (a-z, 0-9, '-', 1-63 characters) and not a reserved name", t.Slug))
	}
	if strings.TrimSpace(t.Name) == "" || utf8.RuneCountInString(t.Name) > 100 || !utf8.ValidString(t.Name) ||
		strings.ContainsFunc(t.Name, func(r rune) bool { return r < 0x20 }) {
		p = append(p, "name is required, at most 100 characters, without control characters")
	}
	if !ValidColor(t.Branding.PrimaryColor) {
		p = append(p, fmt.Sprintf("primary colour %q is not #rrggbb", t.Branding.PrimaryColor))
	}
	if !ValidColor(t.Branding.AccentColor) {
		p = append(p, fmt.Sprintf("accent colour %q is not #rrggbb", t.Branding.AccentColor))
	}
	if t.Branding.AccentTitles && ValidColor(t.Branding.AccentColor) && !theme.Readable(t.Branding.AccentColor) {
		p = append(p, fmt.Sprintf("titles in the accent colour need an accent with at least %.1f:1 contrast against the page; %s has %.1f:1",
			theme.MinContrast, t.Branding.AccentColor, theme.ContrastRatio(t.Branding.AccentColor, theme.Background)))
	}
	if d := t.LinkTTL.D(); d < MinLinkTTL || d > MaxLinkTTL {
		p = append(p, fmt.Sprintf("link TTL %v is outside %v–%v", d, MinLinkTTL, MaxLinkTTL))
	}
	if d := t.SessionTTL.D(); d < MinSessionTTL || d > MaxSessionTTL {
		p = append(p, fmt.Sprintf("session TTL %v is outside %v–%v", d, MinSessionTTL, MaxSessionTTL))
	}
	if t.Portal.CancelMode != CancelEndOfTerm && t.Portal.CancelMode != CancelImmediate {
		p = append(p, fmt.Sprintf("cancel mode %q is not end_of_term or immediate", t.Portal.CancelMode))
	}
	if t.PaymentSetupURL != "" {
		u, err := url.Parse(t.PaymentSetupURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || len(t.PaymentSetupURL) > 2000 {
			p = append(p, fmt.Sprintf("payment setup URL %q must be an absolute https URL", t.PaymentSetupURL))
		}
	}
	if t.MaxAccountBytes < 0 {
		p = append(p, "max account bytes must not be negative (0 means the default)")
	}
	if t.MaxAccounts < 0 {
		p = append(p, "max accounts must not be negative (0 means the default)")
	}
	if len(t.FrameAncestors) > 10 {
		p = append(p, "at most 10 frame ancestors")
	}
	for _, o := range t.FrameAncestors {
		if !ValidOrigin(o) {
			p = append(p, fmt.Sprintf("frame ancestor %q must be an https origin such as https://app.example.com", o))
		}
	}
	p = append(p, t.Seller.problems()...)
	if d := t.Source.TTL.D(); d != 0 && (d < MinSourceTTL || d > MaxSourceTTL) {
		p = append(p, fmt.Sprintf("source TTL %v is outside %v–%v", d, MinSourceTTL, MaxSourceTTL))
	}
	if len(p) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidTenant, strings.Join(p, "; "))
	}
	return nil
}

// clone returns a copy safe to modify (the Memo is not copied: it belongs to the revision). Every
// other field is copied; TestCloneCopiesEveryField fails when a new field is left out here.
func (t *Tenant) clone() *Tenant {
	c := &Tenant{
		ID: t.ID, Slug: t.Slug, Name: t.Name, Branding: t.Branding, Portal: t.Portal,
		LinkTTL: t.LinkTTL, SessionTTL: t.SessionTTL, DefaultLocale: t.DefaultLocale, PaymentSetupURL: t.PaymentSetupURL,
		FrameAncestors: slices.Clone(t.FrameAncestors), RequireTwoFactor: t.RequireTwoFactor, EmailSignIn: t.EmailSignIn,
		MaxAccountBytes: t.MaxAccountBytes, MaxAccounts: t.MaxAccounts, Seller: t.Seller, Source: t.Source,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, Revision: t.Revision,
	}
	return c
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns prefix + 16 random base32 characters (80 bits).
func newID(prefix string) string {
	var b [10]byte
	rand.Read(b[:])
	return prefix + idEncoding.EncodeToString(b[:])
}
