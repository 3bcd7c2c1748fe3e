// Package web holds what the customer portal and the tenant dashboard share in the browser: the
// base stylesheet (layout, cards, tables, forms, buttons, badges, the focus ring, phone and print
// rules), painted with the custom properties package theme sets. The portal serves it followed by
// the invoice page's rules, the dashboard followed by its own. The portal's page templates live
// beside it and are embedded by package gateway.
package web

import _ "embed"

// CSS is the base stylesheet.
//
//go:embed portal.css
var CSS []byte
