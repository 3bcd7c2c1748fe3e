package account

import (
	"slices"
	"testing"
	"time"
)

// TestDisplayStatus: one rule decides the status everyone is shown (portal list, invoice page
// and PDF, dashboard): an issued invoice with money due is overdue from the day after its due
// date (UTC); anything else shows its own status.
func TestDisplayStatus(t *testing.T) {
	t.Parallel()
	due := Date("2026-12-01")
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	tests := []struct {
		name string
		inv  Invoice
		now  time.Time
		want string
	}{
		{"issued, on the due date", Invoice{Status: InvIssued, DueDate: due, Total: 100}, at("2026-12-01T23:59:00Z"), InvIssued},
		{"issued, the day after", Invoice{Status: InvIssued, DueDate: due, Total: 100}, at("2026-12-02T00:00:00Z"), InvOverdue},
		{"issued, the day after in UTC though not in Tokyo's evening", Invoice{Status: InvIssued, DueDate: due, Total: 100}, at("2026-12-02T08:30:00+09:00"), InvIssued},
		{"issued, paid in full", Invoice{Status: InvIssued, DueDate: due, Total: 100, AmountPaid: 100}, at("2026-12-04T00:00:00Z"), InvIssued},
		{"issued, no due date", Invoice{Status: InvIssued, Total: 100}, at("2026-12-04T00:00:00Z"), InvIssued},
		{"paid, late", Invoice{Status: InvPaid, DueDate: due, Total: 100, AmountPaid: 100}, at("2026-12-04T00:00:00Z"), InvPaid},
		{"void", Invoice{Status: InvVoid, DueDate: due, Total: 100}, at("2026-12-04T00:00:00Z"), InvVoid},
		{"overdue as stored", Invoice{Status: InvOverdue, DueDate: due, Total: 100}, at("2026-11-01T00:00:00Z"), InvOverdue},
		{"no clock", Invoice{Status: InvIssued, DueDate: due, Total: 100}, time.Time{}, InvIssued},
	}
	for _, tt := range tests {
		if got := tt.inv.DisplayStatus(tt.now); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

// TestInvoicesNewestFirst: lists are ordered by issue date, newest first, whatever order the
// tenant pushed them in; undated invoices last; equal dates keep the document's order.
func TestInvoicesNewestFirst(t *testing.T) {
	t.Parallel()
	a := &Account{Invoices: []Invoice{
		{ID: "oct", IssueDate: "2026-10-01"}, {ID: "undated"}, {ID: "nov-a", IssueDate: "2026-11-01"},
		{ID: "sep", IssueDate: "2026-09-01"}, {ID: "nov-b", IssueDate: "2026-11-01"}, {ID: "dec", IssueDate: "2026-12-01"},
	}}
	var got []string
	for _, inv := range a.InvoicesNewestFirst() {
		got = append(got, inv.ID)
	}
	if want := []string{"dec", "nov-a", "nov-b", "oct", "sep", "undated"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if a.Invoices[0].ID != "oct" {
		t.Fatal("sorting reordered the document")
	}
}
