package web

import (
	"context"

	"github.com/valyala/fasthttp"
)

// Detach is the context for the etcd, mail and DNS calls a request handler makes. A
// *fasthttp.RequestCtx is a context.Context only until its handler returns: fasthttp then
// recycles it for the next request, while a context derived from it may still read it
// (context.WithTimeout starts a goroutine that calls the parent's Done later): a data race, which
// the race detector reported under load. Every such call has a timeout of its own, and fasthttp
// cancels a RequestCtx only when the server shuts down, after its handlers return, so deriving
// from it would add nothing.
func Detach(*fasthttp.RequestCtx) context.Context { return context.Background() }
