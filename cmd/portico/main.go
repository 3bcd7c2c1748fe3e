// Command portico is the Portico billing portal gateway: `portico serve` runs it, the other
// subcommands manage tenants, API keys, accounts and links in its etcd.
package main

import (
	"os"

	_ "github.com/portico-billing/portico/plugins/standard" // the compiled-in portal sections
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
