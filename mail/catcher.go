package mail

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Catch runs a development mail catcher: an SMTP server on addr (plain, no authentication) that
// accepts every message and writes its envelope, subject and plain-text part to out, until ctx
// ends. Point `portico serve --smtp-addr` at it with `--smtp-tls none` to see portal-link emails
// locally. It prints the links it receives: never run it where the output is shared.
func Catch(ctx context.Context, addr string, out io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("mail: listening for the mail catcher on %s: %w", addr, err)
	}
	return CatchOn(ctx, ln, out)
}

// CatchOn is Catch on a listener the caller opened; it closes it.
func CatchOn(ctx context.Context, ln net.Listener, out io.Writer) error {
	c := &catcher{out: out}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &catchSession{c: c}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	srv.MaxMessageBytes = 10 << 20
	srv.AllowInsecureAuth = true
	fmt.Fprintf(out, "mail catcher listening on %s (use --smtp-addr %s --smtp-tls none)\n", ln.Addr(), ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		srv.Close()
		<-done
		return nil
	case err := <-done:
		return fmt.Errorf("mail: serving the mail catcher: %w", err)
	}
}

type catcher struct {
	mu  sync.Mutex
	out io.Writer
}

type catchSession struct {
	c    *catcher
	from string
	to   []string
}

func (s *catchSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *catchSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *catchSession) Reset()        { s.from, s.to = "", nil }
func (s *catchSession) Logout() error { return nil }

func (s *catchSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	subject, text := summarize(raw)
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	fmt.Fprintf(s.c.out, "\n=== %s  from %s to %s\nSubject: %s\n\n%s\n", time.Now().Format(time.TimeOnly), s.from, strings.Join(s.to, ", "), subject, text)
	return nil
}

// summarize returns a message's subject and its plain-text part (or the raw body when it has
// none).
func summarize(raw []byte) (subject, text string) {
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return "", string(raw)
	}
	subject, _ = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	body, _ := io.ReadAll(m.Body)
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		return subject, string(body)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) || err != nil {
			return subject, string(body)
		}
		if ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct == "text/plain" {
			var r io.Reader = p // quoted-printable is decoded by the multipart reader
			if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
				r = base64.NewDecoder(base64.StdEncoding, p)
			}
			b, _ := io.ReadAll(r)
			return subject, string(b)
		}
	}
}
