package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/portico-billing/portico/internal/etcdtest"
)

// TestEtcdAnyEndpoint: a command works when any listed endpoint answers, first or not, and when
// none does it fails naming every endpoint and what it answered.
func TestEtcdAnyEndpoint(t *testing.T) {
	t.Parallel()
	var dead [2]string
	for i := range dead {
		port, err := etcdtest.FreePort() // nothing listens there
		if err != nil {
			t.Fatal(err)
		}
		dead[i] = fmt.Sprintf("http://127.0.0.1:%d", port)
	}
	for _, tc := range []struct {
		name      string
		endpoints []string
		wait      string   // --etcd-wait
		wantErr   []string // empty: the command succeeds
	}{
		{"first down", []string{dead[0], srv.Endpoint}, "10s", nil},
		{"last down", []string{srv.Endpoint, dead[0]}, "10s", nil},
		{"all down", []string{dead[0], dead[1]}, "500ms", []string{
			"does not answer a quorum read within 500ms",
			dead[0] + ": dial tcp 127.0.0.1:", dead[1] + ": dial tcp 127.0.0.1:", "connection refused",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			code := run([]string{"--etcd-endpoints", strings.Join(tc.endpoints, ","), "--etcd-prefix", etcdtest.Prefix(t),
				"--etcd-wait", tc.wait, "tenant", "list"}, &out, &errb)
			if tc.wantErr == nil {
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errb.String())
				}
				return
			}
			if code == 0 {
				t.Fatal("exit 0")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q: %s", w, errb.String())
				}
			}
		})
	}
}
