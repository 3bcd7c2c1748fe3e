package backend

import (
	"errors"
	"net/http"
)

// Failure is how the portal answers a request to the backend that failed (an error of Call, or
// of storing the document it returned): one class per sentinel error.
type Failure struct {
	// Audit names the class in the session's audit trail ("failure" of an attempt's entry):
	// "no_backend", "timeout", "forbidden_address", "unreachable", "status",
	// "invalid_response", "invalid_account" or "unavailable".
	Audit string
	// Page names the page that tells the customer: "noBackend", "timeout", "unreachable" (a
	// forbidden address too: the customer cannot tell them apart), "status", "invalid",
	// "document" (the backend acted but its document was refused) or "unavailable". A section
	// keeps a message per page, and may say some of them alike.
	Page string
	// Status is the page's HTTP status: 409 without a backend, 504 for a timeout, 502 when the
	// backend failed or answered something unusable, 503 otherwise.
	Status int
}

// Unexpected reports whether the error is of no class of the protocol (tenants.ErrUnavailable,
// a bug): the caller logs it, with what it was doing.
func (f Failure) Unexpected() bool { return f.Page == "unavailable" }

// failures are the classes in the order they are tested: the first sentinel the error wraps
// decides.
var failures = []struct {
	err error
	Failure
}{
	{ErrNoBackend, Failure{"no_backend", "noBackend", http.StatusConflict}},
	{ErrTimeout, Failure{"timeout", "timeout", http.StatusGatewayTimeout}},
	{ErrForbiddenAddress, Failure{"forbidden_address", "unreachable", http.StatusBadGateway}},
	{ErrUnreachable, Failure{"unreachable", "unreachable", http.StatusBadGateway}},
	{ErrStatus, Failure{"status", "status", http.StatusBadGateway}},
	{ErrInvalidResponse, Failure{"invalid_response", "invalid", http.StatusBadGateway}},
	{ErrInvalidAccount, Failure{"invalid_account", "document", http.StatusBadGateway}},
}

// FailureOf classifies err, an error of Service.Call or Service.StoreAccount (or of
// plugins.Backend's), for the audit trail and the customer's page.
func FailureOf(err error) Failure {
	for _, f := range failures {
		if errors.Is(err, f.err) {
			return f.Failure
		}
	}
	return Failure{"unavailable", "unavailable", http.StatusServiceUnavailable}
}
