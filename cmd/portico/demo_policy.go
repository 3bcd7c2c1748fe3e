package main

import "github.com/portico-billing/portico/catalog"

// demoPolicy is the pause and offer part of the demo tenant's change policy (seedDemoCatalog
// adds the timings): subscriptions may pause for up to three periods, and a customer cancelling
// because of the price is offered 50 % off the next two periods first.
var demoPolicy = catalog.Policy{
	Pause: true, PauseMaxPeriods: 3,
	Offers: []catalog.Offer{{Reason: "pricing", PercentOff: 50, Periods: 2,
		Message: "We would rather keep you: half price for the next two periods, no strings attached."}},
}
