package account

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestDecodeExample(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/account.json")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Decode(data)
	if err != nil {
		t.Fatalf("Decode(example): %v", err)
	}
	if a.ID != "acc_7Hq2LmX9" || a.Company.Address.Line1 != "Hauptstraße 12" || len(a.Invoices) != 4 {
		t.Fatalf("decoded wrong document: %+v", a)
	}
	if got := a.Subscriptions[0].Items[2].Tiers[2].UpTo; got != nil {
		t.Fatalf("open tier decoded as %v", *got)
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	valid := `{"id":"a1","name":"N","currency":"EUR"`
	tests := []struct {
		name, doc, want string
	}{
		{"empty", ``, "body is empty"},
		{"malformed", `{"id":`, "ends in the middle"},
		{"syntax", `{"id" "x"}`, "malformed JSON"},
		{"unknown field", valid + `,"colour":"red"}`, `unknown field "colour"`},
		{"wrong type", `{"id":1}`, `field "id" must be a string`},
		{"trailing", valid + `} {}`, "unexpected data"},
		{"missing id", `{"name":"N","currency":"EUR"}`, "id: is required"},
		{"bad currency", `{"id":"a","name":"N","currency":"EURO"}`, `currency: "EURO" is not an ISO 4217`},
		{"lower currency", `{"id":"a","name":"N","currency":"eur"}`, `currency: "eur"`},
		{"bad country", valid + `,"company":{"address":{"country":"XX"}}}`, "company.address.country"},
		{"negative amount", valid + `,"invoices":[{"id":"i","status":"paid","subtotal":-1,"tax":0,"total":0,"amountPaid":0}]}`, "invoices[0].subtotal"},
		{"fractional amount", valid + `,"invoices":[{"id":"i","status":"paid","total":1.5}]}`, `field "invoices.total" must be an integer`},
		{"bad status", valid + `,"subscriptions":[{"id":"s","name":"S","status":"alive"}]}`, `subscriptions[0].status: "alive"`},
		{"duplicate invoice", valid + `,"invoices":[{"id":"i","status":"paid"},{"id":"i","status":"paid"}]}`, `"i" is used twice`},
		{"bad date", valid + `,"invoices":[{"id":"i","status":"paid","dueDate":"31/12/2026"}]}`, "invoices[0].dueDate"},
		{"two defaults", valid + `,"paymentMethods":[{"id":"a","type":"card","default":true},{"id":"b","type":"card","default":true}]}`, "at most one"},
		{"autopay unknown method", valid + `,"autoPay":{"enabled":true,"paymentMethodId":"zz"}}`, "autoPay.paymentMethodId"},
		{"bad tiers", valid + `,"subscriptions":[{"id":"s","name":"S","status":"active","items":[{"product":"p","pricingModel":"tiered","quantity":5,"tiers":[{"upTo":2,"unitAmount":1}]}]}]}`, "beyond the last tier"},
		{"id with slash", `{"id":"a/b","name":"N","currency":"EUR"}`, "id: is required"},
		{"control chars", `{"id":"a","name":"N\u0000","currency":"EUR"}`, "control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tt.doc))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Decode error = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode error = %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestDecodeTooLarge(t *testing.T) {
	t.Parallel()
	_, err := Decode(make([]byte, MaxDocumentSize+1))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("Decode(oversized) = %v", err)
	}
}

func TestValidHelpers(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		f    func(string) bool
		in   string
		want bool
	}{
		{ValidCurrency, "JPY", true}, {ValidCurrency, "KWD", true}, {ValidCurrency, "XYZ", false}, {ValidCurrency, "VES", true}, {ValidCurrency, "ZWG", true},
		{ValidCountry, "DE", true}, {ValidCountry, "EU", false}, {ValidCountry, "de", false},
		{ValidEmail, "a@b.example", true}, {ValidEmail, "Bob <a@b.example>", false},
		{ValidID, "acc_7Hq2LmX9", true}, {ValidID, "-x", false}, {ValidID, "a b", false},
	} {
		if got := c.f(c.in); got != c.want {
			t.Errorf("check(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

// FuzzDecode feeds arbitrary bytes to the document decoder: it must never panic, and a document it
// accepts must validate and survive a JSON round trip unchanged.
func FuzzDecode(f *testing.F) {
	if b, err := os.ReadFile("testdata/account.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"id":"a","name":"N","currency":"EUR"}`))
	f.Add([]byte(`{"id":"a","name":"N","currency":"JPY","invoices":[{"id":"i","status":"paid","total":1}]}`))
	f.Add([]byte(`{"id":"a","name":"N","currency":"EUR","subscriptions":[{"id":"s","name":"S","status":"active","items":[{"product":"p","pricingModel":"tiered","quantity":5,"tiers":[{"upTo":2,"unitAmountDecimal":"0.5"},{"upTo":null,"unitAmount":1}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not wrapping ErrInvalid: %v", err)
			}
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("accepted document fails validation: %v", err)
		}
		for i := range a.Subscriptions {
			if _, err := a.Subscriptions[i].NextCharge(); err != nil {
				t.Fatalf("accepted subscription cannot be priced: %v", err)
			}
		}
		b, _ := json.Marshal(a)
		b2, err := Decode(b)
		if err != nil {
			t.Fatalf("re-encoded document refused: %v", err)
		}
		c, _ := json.Marshal(b2)
		if !bytes.Equal(b, c) {
			t.Fatalf("round trip changed the document:\n%s\n%s", b, c)
		}
	})
}
