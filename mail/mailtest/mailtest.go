// Package mailtest runs a real SMTP server (github.com/emersion/go-smtp) inside a test process:
// plain, STARTTLS or implicit TLS with a certificate made for the test, optionally requiring
// AUTH PLAIN, optionally refusing every message. Tests send through package mail and read what
// arrived, parsed into its plain-text and HTML parts.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/portico-billing/portico/internal/testwait"
)

// Options configure a test server; the zero value is a plain server that accepts everything.
type Options struct {
	// TLS is "none" (default), "starttls" (STARTTLS offered, required before AUTH) or "tls"
	// (implicit TLS from the first byte).
	TLS string
	// User and Password, when set, make the server require AUTH PLAIN with them.
	User, Password string
}

// Message is one message the server accepted.
type Message struct {
	From string
	To   []string
	Data []byte
	// TLS reports whether the message came over an encrypted connection.
	TLS bool
}

// Server is a running test SMTP server; it stops when the test ends.
type Server struct {
	// Addr is host:port of the server.
	Addr string
	opt  Options
	pool *x509.CertPool
	msgs chan Message

	mu     sync.Mutex
	reject error
}

// Start starts a server on a free loopback port.
func Start(t testing.TB, opt Options) *Server {
	t.Helper()
	s := &Server{opt: opt, msgs: make(chan Message, 64)}
	be := smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &session{s: s, tls: isTLS, authed: opt.User == ""}, nil
	})
	srv := smtp.NewServer(be)
	srv.Domain = "mail.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 4 << 20
	srv.AllowInsecureAuth = opt.TLS == "" || opt.TLS == "none"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listening: %v", err)
	}
	switch opt.TLS {
	case "", "none":
	case "starttls", "tls":
		cert, pool := selfSigned(t)
		s.pool = pool
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if opt.TLS == "tls" {
			ln = tls.NewListener(ln, cfg)
		} else {
			srv.TLSConfig = cfg
		}
	default:
		t.Fatalf("mailtest: unknown TLS mode %q", opt.TLS)
	}
	s.Addr = ln.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	// Close the listener too: if Serve has not started yet, srv.Close does not know it.
	t.Cleanup(func() { srv.Close(); ln.Close(); <-done })
	return s
}

// RootCAs trusts the server's certificate (nil for a plain server).
func (s *Server) RootCAs() *x509.CertPool { return s.pool }

// ClientTLS is a client TLS configuration that trusts the server.
func (s *Server) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: s.pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// Reject makes the server refuse every following message with err (nil accepts again); an
// *smtp.SMTPError is answered as it is, anything else as 554.
func (s *Server) Reject(err error) {
	s.mu.Lock()
	s.reject = err
	s.mu.Unlock()
}

func (s *Server) rejection() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reject == nil {
		return nil
	}
	var se *smtp.SMTPError
	if errors.As(s.reject, &se) {
		return se
	}
	return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: s.reject.Error()}
}

// Next waits for the next accepted message (a test that expects none asserts Pending instead).
func (s *Server) Next(t testing.TB) Message {
	t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case <-time.After(testwait.Patience):
		t.Fatalf("mailtest: no message arrived within %v", testwait.Patience)
		return Message{}
	}
}

// Pending returns how many accepted messages nobody has read with Next.
func (s *Server) Pending() int { return len(s.msgs) }

type session struct {
	s      *Server
	tls    bool
	authed bool
	from   string
	to     []string
}

func (x *session) AuthMechanisms() []string {
	if x.s.opt.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (x *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != x.s.opt.User || pass != x.s.opt.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		x.authed = true
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if !x.authed {
		return smtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := x.s.rejection(); err != nil {
		return err
	}
	x.s.msgs <- Message{From: x.from, To: x.to, Data: b, TLS: x.tls}
	return nil
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and localhost and a pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "mailtest"},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: c}, pool
}

// Parsed is a message split into its headers and its text and HTML bodies.
type Parsed struct {
	Header  mail.Header
	Subject string
	Text    string
	HTML    string
}

// Parse reads a message with net/mail and mime/multipart (quoted-printable and base64 parts
// are decoded) and returns its plain-text and HTML bodies.
func Parse(data []byte) (*Parsed, error) {
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("mailtest: reading message: %w", err)
	}
	p := &Parsed{Header: m.Header}
	dec := new(mime.WordDecoder)
	if p.Subject, err = dec.DecodeHeader(m.Header.Get("Subject")); err != nil {
		return nil, fmt.Errorf("mailtest: decoding subject: %w", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("mailtest: reading Content-Type: %w", err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		return nil, fmt.Errorf("mailtest: message is %s, not multipart", mt)
	}
	if err := p.walk(multipart.NewReader(m.Body, params["boundary"])); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Parsed) walk(r *multipart.Reader) error {
	for {
		part, err := r.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("mailtest: reading part: %w", err)
		}
		mt, params, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil {
			return fmt.Errorf("mailtest: reading part Content-Type: %w", err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			if err := p.walk(multipart.NewReader(part, params["boundary"])); err != nil {
				return err
			}
			continue
		}
		var body io.Reader = part
		if strings.EqualFold(part.Header.Get("Content-Transfer-Encoding"), "base64") {
			body = base64.NewDecoder(base64.StdEncoding, part)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			return fmt.Errorf("mailtest: reading %s part: %w", mt, err)
		}
		switch mt {
		case "text/plain":
			p.Text = string(b)
		case "text/html":
			p.HTML = string(b)
		}
	}
}
