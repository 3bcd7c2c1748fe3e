package plugins

import (
	"errors"
	"log/slog"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// Recording says how the answers to one kind of backend request are recorded: the event stored
// with the document a result returns, else the session's audit entry of the result.
type Recording struct {
	// Events are the event types stored with the returned document, by result.
	Events map[backend.Result]string
	// Audits are the audit entry types of the results without an event ("": none).
	Audits map[backend.Result]string
	// Error is the audit entry type of a failed request.
	Error string
}

// CallBackend sends req to the tenant's backend (Backend.Call, one call per idempotency key)
// and records its answer as rec says, unless it is a replay (an earlier call's answer, recorded
// then): the document it returned stored with the result's event in one transaction, else the
// result's audit entry; a failure's audit entry. detail is the data of both, to which it adds
// "requestId", "result", "message" (declined), "redirectUrl" (requires_action) and "failure"
// (backend.FailureOf's audit name) as they apply.
//
// It returns the backend's response, the document stored (nil: none returned, a replay, or the
// stored one moved on since the page was read) and the error to answer with a failure page
// (backend.FailureOf): the call's, or that of a document that was refused although the backend
// acted.
func CallBackend(c ActionContext, req backend.Request, detail map[string]any, rec *Recording) (backend.Response, *account.Account, error) {
	be := c.Backend()
	resp, err := be.Call(req)
	detail["requestId"] = resp.RequestID
	audit := func(typ string) {
		if typ == "" {
			return
		}
		if aerr := be.Audit(typ, detail); aerr != nil {
			slog.Warn("plugins: recording a backend request", "type", req.Type, "err", aerr)
		}
	}
	if err != nil {
		if !resp.Replayed && !errors.Is(err, backend.ErrNoBackend) {
			detail["failure"] = backend.FailureOf(err).Audit
			if resp.Result != "" {
				detail["result"] = string(resp.Result)
			}
			audit(rec.Error)
		}
		return resp, nil, err
	}
	if resp.Replayed {
		return resp, resp.Account, nil
	}
	if resp.Result == backend.Declined {
		detail["message"] = resp.Message
	}
	var ev Event
	if typ := rec.Events[resp.Result]; typ != "" {
		ev = Event{Type: typ, Data: detail}
	}
	stored := resp.Account
	if err := be.Store(resp.Account, ev); errors.Is(err, backend.ErrInvalidAccount) {
		detail["failure"], detail["result"] = backend.FailureOf(err).Audit, string(resp.Result)
		audit(rec.Error)
		return resp, nil, err
	} else if err != nil {
		if !errors.Is(err, tenants.ErrRevisionMismatch) {
			slog.Error("plugins: storing a backend's answer", "type", req.Type, "err", err)
		}
		stored = nil
	}
	if ev.Type == "" {
		detail["result"] = string(resp.Result)
		if resp.Result == backend.RequiresAction {
			detail["redirectUrl"] = resp.RedirectURL
		}
		audit(rec.Audits[resp.Result])
	}
	return resp, stored, nil
}
