package dashboard

import "github.com/portico-billing/portico/internal/etcdtest"

// EtcdForTest is the package's embedded etcd member, for the external tests.
func EtcdForTest() *etcdtest.Server { return srv }
