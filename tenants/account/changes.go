package account

import (
	"cmp"
	"slices"
)

// This file says what changed from one bill to the next, by product: the portal's overview
// compares the next charge with the subscription's last invoice, and an invoice page compares the
// invoice with the one before it. Only lines that name their product (Line.Product) are compared.

// ProductChange is how one product's charge differs between a previous bill and this one.
type ProductChange struct {
	Product string
	Unit    string
	// Before and After are the product's amounts (before discounts); QtyBefore and QtyAfter its
	// quantities. New and Gone say the product was not on the previous bill, or is not on this one.
	Before, After       int64
	QtyBefore, QtyAfter int64
	New, Gone           bool
}

// Delta is After − Before.
func (c ProductChange) Delta() int64 { return c.After - c.Before }

// productTotal is a product's amount and quantity on one bill.
type productTotal struct {
	amount, qty int64
	unit        string
	order       int
}

func invoiceTotals(inv *Invoice) map[string]*productTotal {
	m := map[string]*productTotal{}
	for i, l := range inv.Lines {
		if l.Product == "" {
			continue
		}
		t := m[l.Product]
		if t == nil {
			t = &productTotal{order: i}
			m[l.Product] = t
		}
		t.amount += l.Amount // a valid invoice's lines add up without overflow
		t.qty += l.Quantity
	}
	return m
}

// changes compares the products of two bills; unchanged products are left out.
func changes(before, after map[string]*productTotal) []ProductChange {
	var out []ProductChange
	for p, a := range after {
		c := ProductChange{Product: p, Unit: a.unit, After: a.amount, QtyAfter: a.qty}
		if b, ok := before[p]; ok {
			c.Before, c.QtyBefore = b.amount, b.qty
		} else {
			c.New = true
		}
		if c.New || c.Before != c.After || c.QtyBefore != c.QtyAfter {
			out = append(out, c)
		}
	}
	for p, b := range before {
		if _, ok := after[p]; !ok {
			out = append(out, ProductChange{Product: p, Unit: b.unit, Before: b.amount, QtyBefore: b.qty, Gone: true})
		}
	}
	order := func(c ProductChange) int {
		if t, ok := after[c.Product]; ok {
			return t.order
		}
		return 1000 + before[c.Product].order
	}
	slices.SortFunc(out, func(x, y ProductChange) int {
		return cmp.Or(cmp.Compare(order(x), order(y)), cmp.Compare(x.Product, y.Product))
	})
	return out
}

// PreviousInvoice is the visible invoice issued before inv: of the same subscription when inv
// names one, else of the account; nil when there is none.
func (a *Account) PreviousInvoice(inv *Invoice) *Invoice {
	var prev *Invoice
	for i := range a.Invoices {
		o := &a.Invoices[i]
		if o == inv || !o.Visible() || o.Status == InvVoid || o.IssueDate == "" || o.IssueDate >= inv.IssueDate || o.SubscriptionID != inv.SubscriptionID {
			continue
		}
		if prev == nil || o.IssueDate > prev.IssueDate {
			prev = o
		}
	}
	return prev
}

// LastInvoice is the subscription's newest visible invoice (one that names it), or nil.
func (a *Account) LastInvoice(s *Subscription) *Invoice {
	var last *Invoice
	for i := range a.Invoices {
		o := &a.Invoices[i]
		if o.SubscriptionID != s.ID || !o.Visible() || o.Status == InvVoid || o.IssueDate == "" {
			continue
		}
		if last == nil || o.IssueDate > last.IssueDate {
			last = o
		}
	}
	return last
}

// ChangesSince compares the invoice's lines with the previous invoice's, product by product.
func (inv *Invoice) ChangesSince(prev *Invoice) []ProductChange {
	return changes(invoiceTotals(prev), invoiceTotals(inv))
}

// ChangesSince compares the next charge (the breakdown's items) with the invoice's lines,
// product by product.
func (b *Breakdown) ChangesSince(prev *Invoice) []ProductChange {
	after := map[string]*productTotal{}
	for i, r := range b.Items {
		t := after[r.Item.Product]
		if t == nil {
			t = &productTotal{order: i, unit: r.Item.Unit}
			after[r.Item.Product] = t
		}
		t.amount += r.Charge.Amount // ≤ ItemsTotal: fits
		if r.Item.PricingModel != PricingFlat {
			t.qty += r.Item.Quantity
		} else {
			t.qty++
		}
	}
	return changes(invoiceTotals(prev), after)
}
