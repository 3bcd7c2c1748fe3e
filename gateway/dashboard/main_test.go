package dashboard

import (
	"os"
	"testing"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants"
)

// srv is the package's embedded etcd; the external tests reach it through EtcdForTest.
var srv *etcdtest.Server

func TestMain(m *testing.M) {
	// Sign-ins in tests: real argon2id parameters cost over a second each under -race.
	tenants.PasswordParams = tenants.Argon2Params{Memory: 64, Time: 1, Threads: 1}
	os.Exit(etcdtest.Main(m, &srv))
}
