package main

import (
	"testing"

	"github.com/portico-billing/portico/tenants/account"
)

// TestDemoAccountsAddUp: every demo account `make run` seeds is a valid document, so its invoices'
// lines add up to their subtotals and totals (the demo is what a prospective customer sees first).
func TestDemoAccountsAddUp(t *testing.T) {
	t.Parallel()
	entries, err := demoData.ReadDir("demodata")
	if err != nil || len(entries) < 2 {
		t.Fatalf("demo data: %v, %d files", err, len(entries))
	}
	for _, e := range entries {
		b, err := demoData.ReadFile("demodata/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		a, err := account.Decode(b)
		if err != nil {
			t.Errorf("demo account %s: %v", e.Name(), err)
			continue
		}
		if len(a.Invoices) == 0 {
			t.Errorf("demo account %s has no invoices to show", e.Name())
		}
	}
}
