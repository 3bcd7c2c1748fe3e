// Package standard blank-imports the compiled-in section plugins, so that importing it registers
// every standard section (Plan overview, Usage, Invoices, Billing information) with the plugins registry.
// The gateway imports it for its side effect:
//
//	import _ "github.com/portico-billing/portico/plugins/standard"
package standard

import (
	_ "github.com/portico-billing/portico/plugins/billingdetails"
	_ "github.com/portico-billing/portico/plugins/invoices"
	_ "github.com/portico-billing/portico/plugins/planoverview"
	_ "github.com/portico-billing/portico/plugins/team"
	_ "github.com/portico-billing/portico/plugins/usage"
)
