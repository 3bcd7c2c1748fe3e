package web

import "github.com/valyala/fasthttp"

// SetCookie adds a Set-Cookie for the whole host (Path=/, HttpOnly) to the response: Secure
// unless insecure (development over plain HTTP), with the SameSite mode same, for maxAge
// seconds; a negative maxAge removes the cookie. The portal and the dashboard set every cookie
// through it, so that none lacks HttpOnly or Secure.
func SetCookie(ctx *fasthttp.RequestCtx, name, value string, maxAge int, same fasthttp.CookieSameSite, insecure bool) {
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(name)
	c.SetValue(value)
	c.SetPath("/")
	c.SetHTTPOnly(true)
	c.SetSecure(!insecure)
	c.SetSameSite(same)
	c.SetMaxAge(maxAge)
	ctx.Response.Header.SetCookie(c)
}
