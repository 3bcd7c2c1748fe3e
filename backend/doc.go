// Package backend is the tenant backend protocol: the synchronous, signed requests through which
// the portal asks a tenant's billing system to act (pay an invoice; later: change a plan, top up
// credits). Portico holds no card data and charges nothing itself: the tenant's backend does, and
// answers what happened.
//
// It owns each tenant's one registered backend (URL and signing secrets, sealed at rest with the
// keyring), the client that calls it, the at-most-once bookkeeping of attempts, and the hook that
// stores the account document a backend returns. It knows nothing of HTTP servers or pages: the
// gateway maps its API routes and portal pages onto Service's methods.
//
// # Wire protocol
//
// Portico POSTs to the registered URL, with Content-Type application/json and the Standard
// Webhooks headers webhook-id (the request id, "breq_…"), webhook-timestamp (Unix seconds) and
// webhook-signature ("v1,<base64 HMAC-SHA256 of id.timestamp.body>" per signing secret; two
// during a rotation), the body
//
//	{"type": "invoice.pay", "id": "breq_…", "idempotencyKey": "…", "data": {…}}
//
// "invoice.pay" carries InvoicePayData, "subscription.change" SubscriptionChangeData,
// "subscription.preview" SubscriptionPreviewData, "wallet.top_up" WalletTopUpData; "ping" (the dashboard's "Send test request")
// carries {}.
// The backend answers 200 with
//
//	{"result": "succeeded" | "declined" | "requires_action" | "pending",
//	 "message": "…", "redirectUrl": "https://…", "account": {…}}
//
// message (optional, at most MaxMessageLength characters) is shown to the customer; redirectUrl
// is required for, and only allowed with, requires_action (https); account (optional) is the
// whole updated account document; preview (optional, for subscription.preview) is the backend's
// own preview of the change in catalog.Preview's JSON shape, every total the sum of its lines
// (catalog.Preview.Check), shown to the customer as given. Unknown fields are ignored; anything else malformed is
// ErrInvalidResponse. Redirects are never followed; the answer is read up to MaxResponseBody;
// the whole call is bounded by Config.Timeout (default 10 s, `portico serve --backend-timeout`).
// The egress rules are webhook delivery's (webhooks.NewClient, webhooks.CheckURL): no private,
// loopback or otherwise reserved address, checked at connect time after DNS, unless the
// operator's ranges (Config.AllowCIDRs) include it.
//
// # Using it (for the portal's pages)
//
//	resp, err := svc.Call(ctx, tenantID, backend.Request{
//		Type:           backend.TypeInvoicePay,
//		IdempotencyKey: attemptKey, // the same for a reload, a double submit, another tab
//		Data:           backend.InvoicePayData{AccountID: …, InvoiceID: …, …},
//	})
//	switch {
//	case errors.Is(err, backend.ErrNoBackend):        // no backend: no Pay button (or paymentUrl)
//	case errors.Is(err, backend.ErrTimeout):          // page: the payment service did not answer
//	case errors.Is(err, backend.ErrUnreachable),
//		errors.Is(err, backend.ErrForbiddenAddress): // page: the payment service is unreachable
//	case errors.Is(err, backend.ErrStatus):           // page: it failed (err.(*StatusError).Code)
//	case errors.Is(err, backend.ErrInvalidResponse):  // page: it answered something unusable
//	case errors.Is(err, backend.ErrInvalidAccount):   // page: resp.Result happened, the document was refused
//	case err != nil:                                  // 503 (tenants.ErrUnavailable) or a bug
//	default:
//		// resp.Result: Succeeded, Declined (resp.Message), RequiresAction (redirect to
//		// resp.RedirectURL), Pending. Not a replay: store the document with its event.
//		if !resp.Replayed {
//			svc.StoreAccount(ctx, tenantID, accountID, resp.Account, snapshotRevision, event)
//		}
//	}
//
// FailureOf classifies an error of the switch above once for every page that calls a backend:
// its name in the audit trail, the customer's page and that page's status.
//
// Nothing of the tenant's data changes on a failure. A replay (Replayed) is the outcome of an
// earlier call with the key, without its account document (the first caller stored it).
//
// # Attempts: at most one call in flight per idempotency key
//
// An attempt is named by (tenant, idempotency key) and lives at tenants.Store.BackendAttemptKey
// (lease/backend/<tenantID>/<sha256(key)>). Call claims it with a create-if-absent Txn on a lease
// of Timeout + 10 s and only the winner POSTs; every other caller, on any instance, watches the
// key until the winner replaces the claim by the outcome (a caller whose claim expires, because
// its instance died, lets the next caller claim again). An answer is kept for Config.OutcomeTTL
// (24 h) and answers repeated calls; a failure is kept on the claim's lease only (so concurrent
// and immediate double submits share it), after which the key calls again: the backend receives
// the same idempotencyKey then and must not act twice on it. A key reused with another type or
// data is ErrKeyReused.
//
// # Registration
//
// One backend per tenant at tenants.Store.BackendKey (state/backends/<tenantID>): Register sets
// the URL (the webhook URL rules: https, or http on allowed ranges; no localhost names) and
// issues a "whsec_…" secret shown once; RotateSecret issues a new one, the previous keeps signing
// beside it for RotationOverlap (24 h); re-registering does the same. Secrets are sealed with
// the keyring, bound to the tenant; ResealSecrets re-seals them before a sealing key retires.
package backend
