package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/testwait"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// pemFiles writes a CA and a certificate it signs (for server or client use) into dir.
type testCA struct {
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "portico test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{dir: t.TempDir(), cert: cert, key: key}
	ca.write(t, "ca.pem", "CERTIFICATE", der)
	return ca
}

func (ca *testCA) write(t *testing.T, name, typ string, der []byte) string {
	p := filepath.Join(ca.dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// issue makes a leaf certificate and key; returns their file paths.
func (ca *testCA) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (certFile, keyFile string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return ca.write(t, name+".pem", "CERTIFICATE", der), ca.write(t, name+"-key.pem", "EC PRIVATE KEY", kder)
}

// TestEtcdOverTLSWithAuth runs the CLI against an etcd that requires client certificates and
// etcd authentication, as production clusters do.
func TestEtcdOverTLSWithAuth(t *testing.T) {
	ca := newTestCA(t)
	srvCert, srvKey := ca.issue(t, "server", x509.ExtKeyUsageServerAuth)
	cliCert, cliKey := ca.issue(t, "client", x509.ExtKeyUsageClientAuth)
	cp, _ := etcdtest.FreePort()
	pp, _ := etcdtest.FreePort()
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.Name = "tls"
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.UnsafeNoFsync = true
	cu, _ := url.Parse(fmt.Sprintf("https://127.0.0.1:%d", cp))
	pu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", pp))
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = "tls=" + pu.String()
	cfg.ClientTLSInfo = transport.TLSInfo{CertFile: srvCert, KeyFile: srvKey, TrustedCAFile: filepath.Join(ca.dir, "ca.pem"), ClientCertAuth: true}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	<-e.Server.ReadyNotify()

	// Enable etcd auth with a root user and a portico user limited to Portico's prefix.
	g := &globals{etcdCert: cliCert, etcdKey: cliKey, etcdCA: filepath.Join(ca.dir, "ca.pem")}
	tlsCfg, err := g.etcdTLS()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := clientv3.New(clientv3.Config{Endpoints: []string{cu.String()}, TLS: tlsCfg, DialTimeout: testwait.Patience, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, step := range []func() error{
		func() error { _, err := admin.UserAdd(ctx, "root", "rootpw"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := admin.RoleAdd(ctx, "portico"); return err },
		func() error {
			_, err := admin.RoleGrantPermission(ctx, "portico", "/portico/", clientv3.GetPrefixRangeEnd("/portico/"), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := admin.UserAdd(ctx, "portico", "s3cret"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "portico", "portico"); return err },
		func() error { _, err := admin.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	admin.Close()

	// Patient bounds: etcd checks the password with bcrypt, slow on a busy machine.
	base := []string{"--etcd-wait", testwait.Patience.String(), "--etcd-request-timeout", testwait.Patience.String(), "--etcd-endpoints", cu.String(), "--etcd-cert", cliCert, "--etcd-key", cliKey, "--etcd-ca", filepath.Join(ca.dir, "ca.pem"), "--etcd-user", "portico"}
	t.Setenv("PORTICO_ETCD_PASSWORD", "s3cret")
	var out, errb strings.Builder
	if code := run(append(base, "tenant", "create", "--slug", "tls", "--name", "TLS Co"), &out, &errb); code != 0 {
		t.Fatalf("over TLS with auth: %s", errb.String())
	}
	// Without the client certificate the server refuses the connection.
	errb.Reset()
	if code := run(append([]string{"--etcd-wait", "2s"}, "--etcd-endpoints", cu.String(), "--etcd-ca", filepath.Join(ca.dir, "ca.pem"), "--etcd-user", "portico", "tenant", "list"), &out, &errb); code == 0 {
		t.Fatal("connected without a client certificate")
	}
	// With a wrong password etcd auth refuses.
	t.Setenv("PORTICO_ETCD_PASSWORD", "wrong")
	errb.Reset()
	if code := run(append(base, "tenant", "list"), &out, &errb); code == 0 {
		t.Fatal("connected with a wrong password")
	}
}
