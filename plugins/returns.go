package plugins

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Round trips through a page outside the portal (a backend's requires_action page, the tenant's
// payment setup page) come back on a return URL that the portal sealed: only the session that
// left honours it, on the page it was made for, within ReturnTTL. A link mailed on, or found in
// a browser's history, opens nothing.

// ReturnTTL is how long a return URL of ReturnURL is honoured.
const ReturnTTL = time.Hour

// ReturnURL returns the portal's absolute URL of path (c.Origin() + path, path starting with
// "/") with the query parameter "r": sealed for purpose (ActionContext.Seal), the session, the
// action's "{id}" argument (c.Arg(), "" without one) and the end of ReturnTTL. The action that
// path routes to checks it with CheckReturn; its "{id}" must be the same.
func ReturnURL(c ActionContext, purpose, path string) (string, error) {
	exp := strconv.FormatInt(c.Now().Add(ReturnTTL).Unix(), 10)
	sealed, err := c.Seal(purpose, []byte(c.SessionID()+"|"+c.Arg()+"|"+exp))
	if err != nil {
		return "", fmt.Errorf("plugins: sealing a return URL: %w", err)
	}
	return c.Origin() + path + "?" + url.Values{"r": {base64.RawURLEncoding.EncodeToString(sealed)}}.Encode(), nil
}

// CheckReturn reports whether the request's query parameter "r" is a return URL's seal that
// ReturnURL made for purpose in this session, with this request's "{id}" argument, and that has
// not expired. A request that fails it is answered with a page saying the link is not valid (400).
func CheckReturn(c ActionContext, purpose string) bool {
	sealed, err := base64.RawURLEncoding.DecodeString(c.QueryValue("r"))
	if err != nil {
		return false
	}
	p, err := c.Unseal(purpose, sealed)
	if err != nil {
		return false
	}
	parts := strings.Split(string(p), "|")
	if len(parts) != 3 || parts[0] != c.SessionID() || parts[1] != c.Arg() {
		return false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	return err == nil && c.Now().Unix() < exp
}

// RedirectWithReturn answers a redirect (303) to target, a page outside the portal, with the
// query parameters of params and "return_url": ReturnURL(c, purpose, path). A target that does
// not parse (the caller checked it), or a seal that fails, is answered by Fail.
func RedirectWithReturn(c ActionContext, target string, params url.Values, purpose, path string) {
	ret, err := ReturnURL(c, purpose, path)
	if err != nil {
		c.Fail(err)
		return
	}
	u, err := url.Parse(target)
	if err != nil {
		c.Fail(errors.New("plugins: the URL to send the customer to does not parse")) // not logged: it may hold a token
		return
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	q.Set("return_url", ret)
	u.RawQuery = q.Encode()
	c.Redirect(u.String())
}
