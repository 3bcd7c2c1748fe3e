package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// cmdScale seeds tenants (each with one API key) and accounts straight into etcd through package
// tenants — the same writes the API and the CLI make — with many concurrent writers, and writes
// "<api key> <account id>" for every account so that `warm` can load each one through the API.
func cmdScale(args []string) error {
	fs := flag.NewFlagSet("scale", flag.ExitOnError)
	endpoints := fs.String("etcd", "http://127.0.0.1:2379", "etcd client URLs (comma-separated)")
	prefix := fs.String("etcd-prefix", "/portico/", "Portico's key prefix")
	nt := fs.Int("tenants", 10_000, "tenants to create")
	na := fs.Int("accounts", 100_000, "accounts to create, spread evenly over the tenants")
	docFile := fs.String("account", "", "account document (JSON) every account is a copy of")
	conc := fs.Int("c", 64, "concurrent writers")
	out := fs.String("out", "", "write '<api key> <account id>' lines here")
	results := fs.String("results", "", "results file to append timings to (as notes)")
	fs.Parse(args)

	b, err := os.ReadFile(*docFile)
	if err != nil {
		return err
	}
	tmpl, err := account.Decode(b)
	if err != nil {
		return err
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: strings.Split(*endpoints, ","), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := context.Background()
	s, err := tenants.Open(ctx, tenants.Config{Client: c, Prefix: *prefix, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RequestTimeout: 30 * time.Second})
	if err != nil {
		return err
	}
	defer s.Close()

	note := func(k, v string) {
		fmt.Printf("%s: %s\n", k, v)
		if *results != "" {
			appendRecord(*results, &record{Kind: "note", Key: k, Value: v})
		}
	}
	ids := make([]string, *nt)
	keys := make([]string, *nt)
	start := time.Now()
	err = parallel(*nt, *conc, func(i int) error {
		t, err := s.CreateTenant(ctx, &tenants.Tenant{Slug: fmt.Sprintf("bench%05d", i), Name: fmt.Sprintf("Bench Tenant %d", i), Portal: tenants.DefaultPortal()})
		if err != nil {
			return fmt.Errorf("tenant %d: %w", i, err)
		}
		_, key, err := s.CreateAPIKey(ctx, t.ID, "bench")
		if err != nil {
			return fmt.Errorf("API key of tenant %d: %w", i, err)
		}
		ids[i], keys[i] = t.ID, key
		return nil
	})
	if err != nil {
		return err
	}
	el := time.Since(start)
	note("scale.tenants", fmt.Sprintf("%d tenants and %d API keys written in %.1f s (%.0f tenants/s)", *nt, *nt, el.Seconds(), float64(*nt)/el.Seconds()))

	lines := make([]string, *na)
	start = time.Now()
	err = parallel(*na, *conc, func(i int) error {
		a := *tmpl
		a.ID = fmt.Sprintf("acc-%07d", i)
		a.Alias = fmt.Sprintf("crm-%07d", i)
		t := i % *nt
		if _, _, err := s.PutAccount(ctx, ids[t], &a, 0); err != nil {
			return fmt.Errorf("account %d: %w", i, err)
		}
		lines[i] = keys[t] + " " + a.ID
		return nil
	})
	if err != nil {
		return err
	}
	el = time.Since(start)
	note("scale.accounts", fmt.Sprintf("%d accounts (%d-byte documents) written in %.1f s (%.0f accounts/s)", *na, len(b), el.Seconds(), float64(*na)/el.Seconds()))
	return writeLines(*out, lines)
}

// cmdWarm GETs every account of a scale file through the API (its tenant's key), which loads each
// into the gateway's account cache.
func cmdWarm(args []string) error {
	fs := flag.NewFlagSet("warm", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to dial")
	api := fs.String("api", "http://api.portal.localhost:8080", "API origin")
	in := fs.String("in", "", "scale output: '<api key> <account id>' lines")
	conc := fs.Int("c", 64, "concurrent requests")
	every := fs.Int("every", 1, "only every n-th account (a sample)")
	results := fs.String("results", "", "results file to append the timing to (as a note)")
	name := fs.String("name", "scale.warm", "note key")
	fs.Parse(args)
	lines, err := readLines(*in)
	if err != nil {
		return err
	}
	var pick []string
	for i := 0; i < len(lines); i += max(1, *every) {
		pick = append(pick, lines[i])
	}
	c := newClient(*addr)
	start := time.Now()
	err = parallel(len(pick), *conc, func(i int) error {
		key, id, _ := strings.Cut(pick[i], " ")
		status, body, _, err := c.do("GET", *api+"/v1/accounts/"+id, nil, "Authorization", "Bearer "+key)
		if err != nil {
			return err
		}
		if status != 200 {
			return fmt.Errorf("GET account %s: status %d: %.200s", id, status, body)
		}
		return nil
	})
	if err != nil {
		return err
	}
	el := time.Since(start)
	msg := fmt.Sprintf("%d accounts read through GET /v1/accounts/{id} in %.1f s (%.0f/s)", len(pick), el.Seconds(), float64(len(pick))/el.Seconds())
	fmt.Println(msg)
	if *results != "" {
		return appendRecord(*results, &record{Kind: "note", Key: *name, Value: msg})
	}
	return nil
}

// cmdEtcdSize compacts etcd to its current revision, defragments the endpoint and records the
// database size (etcd's Status DbSize, the bbolt file) as notes, with the bytes per account: what
// an account costs in etcd once the history of its writes is gone.
func cmdEtcdSize(args []string) error {
	fs := flag.NewFlagSet("etcdsize", flag.ExitOnError)
	endpoint := fs.String("etcd", "http://127.0.0.1:2379", "etcd client URL (one member: it is defragmented)")
	na := fs.Int("accounts", 0, "accounts stored, to compute the bytes per account")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long compaction and defragmentation may take (a million accounts under load: more than 5 minutes)")
	results := fs.String("results", "", "results file to append the notes to")
	key := fs.String("key", "scale.etcd", "note key")
	fs.Parse(args)
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{*endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	before, err := c.Status(ctx, *endpoint)
	if err != nil {
		return fmt.Errorf("reading the status of %s: %w", *endpoint, err)
	}
	if _, err := c.Compact(ctx, before.Header.Revision, clientv3.WithCompactPhysical()); err != nil && !strings.Contains(err.Error(), "compacted") {
		return fmt.Errorf("compacting to revision %d: %w", before.Header.Revision, err)
	}
	start := time.Now()
	if _, err := c.Defragment(ctx, *endpoint); err != nil {
		return fmt.Errorf("defragmenting %s: %w", *endpoint, err)
	}
	el := time.Since(start)
	after, err := c.Status(ctx, *endpoint)
	if err != nil {
		return fmt.Errorf("reading the status of %s: %w", *endpoint, err)
	}
	notes := [][2]string{
		{"etcd.before.DbSize", strconv.FormatInt(before.DbSize, 10)},
		{"etcd.DbSize", strconv.FormatInt(after.DbSize, 10)},
		{"etcd.DbSizeInUse", strconv.FormatInt(after.DbSizeInUse, 10)},
	}
	msg := fmt.Sprintf("etcd: %.1f MB after compaction and defragmentation (%.1f MB before; defragmenting took %.1f s)",
		float64(after.DbSize)/1e6, float64(before.DbSize)/1e6, el.Seconds())
	if *na > 0 {
		msg += fmt.Sprintf(", %s bytes per account (the whole database, tenants and keys included, over %d accounts)",
			fmtInt(float64(after.DbSize)/float64(*na)), *na)
	}
	notes = append(notes, [2]string{*key, msg})
	fmt.Println(msg)
	if *results == "" {
		return nil
	}
	for _, n := range notes {
		if err := appendRecord(*results, &record{Kind: "note", Key: n[0], Value: n[1]}); err != nil {
			return err
		}
	}
	return nil
}
