package tenants

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Errors of sign-in by email. A wrong, void, expired or unknown code is one answer,
// ErrSignInCodeWrong, so that the code form says nothing about which emails have accounts.
var (
	ErrSignInCodeWrong = errors.New("tenants: the sign-in code is wrong or no longer valid")
	ErrSignInNotChosen = errors.New("tenants: the account is not one the signed-in email may choose")
	ErrSignInLimited   = errors.New("tenants: too many sign-in emails asked for")
)

// Sign in by email (Tenant.EmailSignIn): the customer types a billing email; the email holds a
// single-use link and a 6-digit code, both valid SignInCodeTTL. A code is tried at most
// MaxSignInCodeTries times, then it is void. The emails asked for are counted in fixed windows of
// SignInMailWindow under three keys: the email (MaxSignInMailsPerEmail), the client address
// (MaxSignInMailsPerAddress) and the tenant (MaxSignInMailsPerTenant); the counts are kept
// whether or not the email has an account.
const (
	SignInCodeTTL            = 15 * time.Minute
	MaxSignInCodeTries       = 5
	SignInMailWindow         = time.Hour
	MaxSignInMailsPerEmail   = 5
	MaxSignInMailsPerAddress = 20
	MaxSignInMailsPerTenant  = 1000
)

// emailHash is the hash an email is stored under in the index and the sign-in keys.
func emailHash(tenantID, email string) string {
	return hashHex(tenantID + "\x00" + NormalizeEmail(email))
}

// emailIndexOps returns the index writes of an account whose billing email goes from oldEmail to
// newEmail (either may be empty). The key of the new email is always put, so that any write of an
// account stored before the index existed indexes it.
func (s *Store) emailIndexOps(tid, aid, oldEmail, newEmail string) []clientv3.Op {
	var ops []clientv3.Op
	if oldEmail != "" && NormalizeEmail(oldEmail) != NormalizeEmail(newEmail) {
		ops = append(ops, clientv3.OpDelete(s.k.emailIndexAccount(tid, emailHash(tid, oldEmail), aid)))
	}
	if newEmail != "" {
		ops = append(ops, clientv3.OpPut(s.k.emailIndexAccount(tid, emailHash(tid, newEmail), aid), ""))
	}
	return ops
}

// AccountsByEmail returns the entries of the tenant's accounts email signs in to, compared
// case-insensitively, in id order (at most maxEmailAccounts): the id of an account whose billing
// email it is, "<accountID>/<memberID>" of an account it is a member of (SignInEntry).
func (s *Store) AccountsByEmail(ctx context.Context, tenantID, email string) ([]string, error) {
	if NormalizeEmail(email) == "" {
		return nil, nil
	}
	ids, err := s.indexedAccounts(ctx, tenantID, emailHash(tenantID, email))
	if err != nil {
		return nil, fmt.Errorf("tenants: looking up accounts by email: %w", err)
	}
	return ids, nil
}

// maxEmailAccounts bounds the accounts one email signs in to (AccountsByEmail).
const maxEmailAccounts = 100

// indexedAccounts reads the ids of the accounts the email index holds under an email's hash.
func (s *Store) indexedAccounts(ctx context.Context, tenantID, eh string) ([]string, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	prefix := s.k.emailIndex(tenantID, eh)
	resp, err := s.c.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithLimit(maxEmailAccounts))
	if err != nil {
		return nil, Unavailable(err)
	}
	ids := make([]string, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		ids = append(ids, string(kv.Key[len(prefix):]))
	}
	return ids, nil
}

// EmailSignIn is a pending sign-in by email, stored under the email's hash with a lease. Its
// link token and code exist only in the email; the record holds their hashes.
type EmailSignIn struct {
	// Accounts are the ids of the tenant's accounts with the email when it was asked for.
	Accounts  []string  `json:"accounts"`
	TokenHash string    `json:"tokenHash"`
	CodeHash  string    `json:"codeHash"`
	Tries     int       `json:"tries"`
	Locale    string    `json:"locale,omitempty"`
	ExpiresAt time.Time `json:"expiresAt"`
	// EmailHash names the record (filled on reading, not stored).
	EmailHash string `json:"-"`
}

// newCode returns a random 6-digit code.
func newCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("%06d", n.Int64())
}

func codeHash(eh, code string) string { return hashHex(eh + "\x00" + code) }

// CountSignInMail counts one sign-in email asked for by email from addr, and returns
// a *SignInLimitedError when the email, the address or the tenant is over its limit in the
// window (the request is counted either way). It is three etcd requests.
func (s *Store) CountSignInMail(ctx context.Context, tenantID, email, addr string, now time.Time) error {
	n := int64(SignInMailWindow / time.Second)
	window := now.Unix() / n
	end := time.Unix((window+1)*n, 0)
	w := strconv.FormatInt(window, 10)
	scopes := []struct {
		key string
		max int64
	}{
		{s.k.emailSignIn(tenantID, "n", throttleHash("e", NormalizeEmail(email), w)), MaxSignInMailsPerEmail},
		{s.k.emailSignIn(tenantID, "n", throttleHash("a", addr, w)), MaxSignInMailsPerAddress},
		{s.k.emailSignIn(tenantID, "n", throttleHash("t", w)), MaxSignInMailsPerTenant},
	}
	limited := false
	for _, sc := range scopes {
		v, err := s.countOnLease(ctx, sc.key, end)
		if err != nil {
			return fmt.Errorf("tenants: counting sign-in emails: %w", err)
		}
		if v > sc.max {
			limited = true
		}
	}
	if limited {
		return &SignInLimitedError{Until: end}
	}
	return nil
}

// SignInLimitedError is CountSignInMail's answer while an email, address or tenant is over its
// limit; errors.Is(err, ErrSignInLimited) holds. Until is the end of the window.
type SignInLimitedError struct{ Until time.Time }

func (e *SignInLimitedError) Error() string {
	return ErrSignInLimited.Error() + "; try again at " + e.Until.UTC().Format(time.RFC3339)
}

// Is makes errors.Is(err, ErrSignInLimited) true.
func (e *SignInLimitedError) Is(target error) bool { return target == ErrSignInLimited }

// CreateEmailSignIn stores a sign-in of email for the accounts and returns the link's token and
// the code, valid SignInCodeTTL from now. It replaces a sign-in asked for before with the same
// email: the link and code of the earlier email stop working.
func (s *Store) CreateEmailSignIn(ctx context.Context, tenantID, email string, accounts []string, locale string, now time.Time) (token, code string, err error) {
	eh := emailHash(tenantID, email)
	token, code = NewToken(), newCode()
	rec, _ := json.Marshal(EmailSignIn{
		Accounts: accounts, TokenHash: hashHex(token), CodeHash: codeHash(eh, code), Locale: locale, ExpiresAt: now.Add(SignInCodeTTL).UTC(),
	})
	err = s.onLease(ctx, now.Add(SignInCodeTTL+LinkGrace), func(ctx context.Context, lease clientv3.LeaseID) error {
		_, err := s.c.Txn(ctx).Then(
			clientv3.OpPut(s.k.emailSignIn(tenantID, "e", eh), string(rec), clientv3.WithLease(lease)),
			clientv3.OpPut(s.k.emailSignIn(tenantID, "t", hashHex(token)), eh, clientv3.WithLease(lease)),
		).Commit()
		return err
	})
	if err != nil {
		return "", "", fmt.Errorf("tenants: creating a sign-in by email: %w", err)
	}
	return token, code, nil
}

// readEmailSignIn reads the pending sign-in of the email hash; nil when there is none.
func (s *Store) readEmailSignIn(ctx context.Context, tenantID, eh string) (*EmailSignIn, int64, error) {
	resp, err := s.c.Get(ctx, s.k.emailSignIn(tenantID, "e", eh))
	if err != nil {
		return nil, 0, fmt.Errorf("tenants: reading a sign-in by email: %w", Unavailable(err))
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, nil
	}
	var e EmailSignIn
	if err := json.Unmarshal(resp.Kvs[0].Value, &e); err != nil {
		return nil, 0, fmt.Errorf("tenants: decoding a sign-in by email: %w", err)
	}
	e.EmailHash = eh
	return &e, resp.Kvs[0].ModRevision, nil
}

// signInOfToken reads the sign-in the link token belongs to: ErrLinkNotFound, ErrLinkUsed or
// ErrLinkExpired when it cannot be used.
func (s *Store) signInOfToken(ctx context.Context, tenantID, token string, now time.Time) (*EmailSignIn, int64, error) {
	if !ValidToken(token) {
		return nil, 0, ErrLinkNotFound
	}
	resp, err := s.c.Get(ctx, s.k.emailSignIn(tenantID, "t", hashHex(token)))
	if err != nil {
		return nil, 0, fmt.Errorf("tenants: reading a sign-in link: %w", Unavailable(err))
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, ErrLinkNotFound
	}
	if isUsed(resp.Kvs[0].Value) {
		return nil, 0, ErrLinkUsed
	}
	e, rev, err := s.readEmailSignIn(ctx, tenantID, string(resp.Kvs[0].Value))
	switch {
	case err != nil:
		return nil, 0, err
	case e == nil || e.TokenHash != hashHex(token):
		// Used by its code, voided by wrong codes, or replaced by a later email.
		return nil, 0, ErrLinkUsed
	case !now.Before(e.ExpiresAt):
		return nil, 0, ErrLinkExpired
	}
	return e, rev, nil
}

// PeekEmailSignInLink returns the sign-in of a link token without using it (its Continue page),
// or the error RedeemEmailSignInLink would give.
func (s *Store) PeekEmailSignInLink(ctx context.Context, tenantID, token string, now time.Time) (*EmailSignIn, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	e, _, err := s.signInOfToken(ctx, tenantID, token, now)
	return e, err
}

// RedeemEmailSignInLink uses the link token: its sign-in is removed (with its code) and the token
// marked used in one Txn guarded by the record's revision, so exactly one caller gets it.
func (s *Store) RedeemEmailSignInLink(ctx context.Context, tenantID, token string, now time.Time) (*EmailSignIn, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	e, rev, err := s.signInOfToken(ctx, tenantID, token, now)
	if err != nil {
		return nil, err
	}
	if err := s.consumeEmailSignIn(ctx, tenantID, e, rev); err != nil {
		return nil, err
	}
	return e, nil
}

func (s *Store) consumeEmailSignIn(ctx context.Context, tenantID string, e *EmailSignIn, rev int64) error {
	ekey := s.k.emailSignIn(tenantID, "e", e.EmailHash)
	marker := usedPrefix + `}`
	resp, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(ekey), "=", rev)).Then(
		clientv3.OpDelete(ekey),
		clientv3.OpPut(s.k.emailSignIn(tenantID, "t", e.TokenHash), marker, clientv3.WithIgnoreLease()),
	).Commit()
	if err != nil {
		return fmt.Errorf("tenants: using a sign-in by email: %w", Unavailable(err))
	}
	if !resp.Succeeded {
		return ErrLinkUsed
	}
	return nil
}

// RedeemEmailSignInCode uses the code typed for email. A wrong code counts a try; the
// MaxSignInCodeTries-th wrong try removes the sign-in, so that no code works any more (its link
// neither). Wrong, void, expired and unknown are all ErrSignInCodeWrong.
func (s *Store) RedeemEmailSignInCode(ctx context.Context, tenantID, email, code string, now time.Time) (*EmailSignIn, error) {
	eh := emailHash(tenantID, email)
	for range 5 {
		e, err := s.tryCode(ctx, tenantID, eh, code, now)
		if !errors.Is(err, ErrConflict) {
			return e, err
		}
	}
	return nil, fmt.Errorf("tenants: trying a sign-in code: %w", ErrConflict)
}

func (s *Store) tryCode(ctx context.Context, tenantID, eh, code string, now time.Time) (*EmailSignIn, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	e, rev, err := s.readEmailSignIn(ctx, tenantID, eh)
	if err != nil {
		return nil, err
	}
	if e == nil || !now.Before(e.ExpiresAt) {
		return nil, ErrSignInCodeWrong
	}
	if len(code) == 6 && subtle.ConstantTimeCompare([]byte(codeHash(eh, code)), []byte(e.CodeHash)) == 1 {
		if err := s.consumeEmailSignIn(ctx, tenantID, e, rev); errors.Is(err, ErrLinkUsed) {
			return nil, ErrConflict // a concurrent try or redemption moved it: read again
		} else if err != nil {
			return nil, err
		}
		return e, nil
	}
	ekey := s.k.emailSignIn(tenantID, "e", eh)
	e.Tries++
	op := clientv3.OpDelete(ekey)
	if e.Tries < MaxSignInCodeTries {
		rec, _ := json.Marshal(e)
		op = clientv3.OpPut(ekey, string(rec), clientv3.WithIgnoreLease())
	}
	resp, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(ekey), "=", rev)).Then(op).Commit()
	if err != nil {
		return nil, fmt.Errorf("tenants: counting a sign-in code's try: %w", Unavailable(err))
	}
	if !resp.Succeeded {
		return nil, ErrConflict
	}
	return nil, ErrSignInCodeWrong
}

// SignInChoice is the accounts an email that signed in may choose from, stored under the hash of
// a token the browser holds, until SignInCodeTTL.
type SignInChoice struct {
	Accounts  []string  `json:"accounts"`
	Locale    string    `json:"locale,omitempty"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// CreateSignInChoice stores the accounts a signed-in email chooses from and returns its token.
func (s *Store) CreateSignInChoice(ctx context.Context, tenantID string, c *SignInChoice) (string, error) {
	token := NewToken()
	rec, _ := json.Marshal(c)
	err := s.onLease(ctx, c.ExpiresAt, func(ctx context.Context, lease clientv3.LeaseID) error {
		_, err := s.c.Put(ctx, s.k.emailSignIn(tenantID, "x", hashHex(token)), string(rec), clientv3.WithLease(lease))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("tenants: storing a sign-in choice: %w", err)
	}
	return token, nil
}

// SignInChoiceOf returns the choice of token: ErrLinkNotFound when there is none (or it expired).
func (s *Store) SignInChoiceOf(ctx context.Context, tenantID, token string, now time.Time) (*SignInChoice, error) {
	if !ValidToken(token) {
		return nil, ErrLinkNotFound
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Get(ctx, s.k.emailSignIn(tenantID, "x", hashHex(token)))
	if err != nil {
		return nil, fmt.Errorf("tenants: reading a sign-in choice: %w", Unavailable(err))
	}
	if len(resp.Kvs) == 0 {
		return nil, ErrLinkNotFound
	}
	var c SignInChoice
	if err := json.Unmarshal(resp.Kvs[0].Value, &c); err != nil {
		return nil, fmt.Errorf("tenants: decoding a sign-in choice: %w", err)
	}
	if !now.Before(c.ExpiresAt) {
		return nil, ErrLinkNotFound
	}
	return &c, nil
}

// TakeSignInChoice uses the choice of token for accountID, which must be one of its accounts
// (ErrSignInNotChosen otherwise, and the choice stays), and returns it. The choice is removed:
// one sign-in opens one session.
func (s *Store) TakeSignInChoice(ctx context.Context, tenantID, token, accountID string, now time.Time) (*SignInChoice, error) {
	c, err := s.SignInChoiceOf(ctx, tenantID, token, now)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(c.Accounts, accountID) {
		return nil, fmt.Errorf("tenants: choosing account %q: %w", accountID, ErrSignInNotChosen)
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Delete(ctx, s.k.emailSignIn(tenantID, "x", hashHex(token)))
	if err != nil {
		return nil, fmt.Errorf("tenants: using a sign-in choice: %w", Unavailable(err))
	}
	if resp.Deleted != 1 {
		return nil, ErrLinkNotFound
	}
	return c, nil
}

// SignInAccounts returns those of the sign-in's entries (EmailSignIn.Accounts) that still have its
// email, in their order: an account deleted since the email was sent, or whose billing email
// changed, and a member removed since, are left out. An email that is both the billing email and a
// member of one account signs in as its holder.
func (s *Store) SignInAccounts(ctx context.Context, tenantID string, e *EmailSignIn) ([]SignInEntry, error) {
	now, err := s.indexedAccounts(ctx, tenantID, e.EmailHash)
	if err != nil {
		return nil, fmt.Errorf("tenants: looking up the accounts of a sign-in: %w", err)
	}
	var out []SignInEntry
	for _, id := range e.Accounts {
		if !slices.Contains(now, id) {
			continue
		}
		en := ParseSignInEntry(id)
		if en.Member != "" && slices.Contains(now, en.Account) {
			continue // the holder's entry opens the account
		}
		out = append(out, en)
	}
	return out, nil
}

// SignInEntry is an account an email signs in to: as its holder (Member "") or as a member.
type SignInEntry struct{ Account, Member string }

// String is the entry as the index and a sign-in store it: "<accountID>" or
// "<accountID>/<memberID>".
func (e SignInEntry) String() string {
	if e.Member == "" {
		return e.Account
	}
	return e.Account + "/" + e.Member
}

// ParseSignInEntry reads an entry String wrote.
func ParseSignInEntry(s string) SignInEntry {
	a, m, _ := strings.Cut(s, "/")
	return SignInEntry{Account: a, Member: m}
}
