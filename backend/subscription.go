package backend

// Request types of the subscription actions of the portal (the Plan overview section): a pause,
// a resume and an accepted retention offer. Each is answered like TypeInvoicePay: a result, an
// optional message for the customer and, for succeeded, the whole updated account document,
// which Portico stores in one Txn with the event subscription.paused, subscription.resumed or
// subscription.offer_accepted.
const (
	TypeSubscriptionPause       = "subscription.pause"
	TypeSubscriptionResume      = "subscription.resume"
	TypeSubscriptionOfferAccept = "subscription.offer_accept"
)

// SubscriptionPauseData is the data of a "subscription.pause" request: pause the subscription
// for Periods billing periods after its current one; billing resumes on ResumesAt (YYYY-MM-DD,
// as the customer was shown).
type SubscriptionPauseData struct {
	AccountID      string `json:"accountId"`
	SubscriptionID string `json:"subscriptionId"`
	Periods        int    `json:"periods"`
	ResumesAt      string `json:"resumesAt"`
	SessionID      string `json:"sessionId"`
}

// SubscriptionResumeData is the data of a "subscription.resume" request: end the pause now.
type SubscriptionResumeData struct {
	AccountID      string `json:"accountId"`
	SubscriptionID string `json:"subscriptionId"`
	SessionID      string `json:"sessionId"`
}

// SubscriptionOfferAcceptData is the data of a "subscription.offer_accept" request: the customer,
// about to cancel for Reason, accepted PercentOff off the next Periods billing periods and keeps
// the subscription.
type SubscriptionOfferAcceptData struct {
	AccountID      string `json:"accountId"`
	SubscriptionID string `json:"subscriptionId"`
	Reason         string `json:"reason"`
	PercentOff     int    `json:"percentOff"`
	Periods        int    `json:"periods"`
	SessionID      string `json:"sessionId"`
}
