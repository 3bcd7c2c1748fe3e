// Command staticserver is the "limit" contestant of Portico's benchmark: a fasthttp server that
// answers every request with the bytes of a customer page captured from a running Portico (body and
// response headers, see `loadgen fetch`), straight from memory. Nothing is looked up, checked or
// rendered, so its rate is the most this stack (fasthttp on one core) can serve for a response of
// that size on this machine.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	bodyFile := flag.String("body", "page.html", "response body")
	headFile := flag.String("headers", "page.headers", "response headers, 'Name: value' lines (Date and Content-Length are the server's own)")
	flag.Parse()
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		log.Fatal(err)
	}
	hb, err := os.ReadFile(*headFile)
	if err != nil {
		log.Fatal(err)
	}
	var headers [][2][]byte
	contentType, serverName := []byte("text/html; charset=utf-8"), ""
	sc := bufio.NewScanner(bytes.NewReader(hb))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			continue
		}
		switch strings.ToLower(k) {
		case "date", "content-length", "connection":
		case "content-type":
			contentType = []byte(v)
		case "server":
			serverName = v
		default:
			headers = append(headers, [2][]byte{[]byte(k), []byte(v)})
		}
	}
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			for _, h := range headers {
				ctx.Response.Header.SetBytesKV(h[0], h[1])
			}
			ctx.Response.Header.SetContentTypeBytes(contentType)
			ctx.Response.SetBodyRaw(body)
		},
		Name:                  serverName,
		NoDefaultServerHeader: serverName == "",
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           90 * time.Second,
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "staticserver ready on %s: %d-byte body, %d extra headers\n", ln.Addr(), len(body), len(headers))
	log.Fatal(srv.Serve(ln))
}
