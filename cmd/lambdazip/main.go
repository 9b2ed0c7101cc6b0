// Command lambdazip packs a Lambda bootstrap binary into a deterministic
// zip: fixed timestamps, one entry "bootstrap" with mode 0755. The same
// binary always gives the same zip, so Terraform's source_code_hash only
// changes when the code does.
package main

import (
	"fmt"
	"os"

	"github.com/drdrill/drdrill/internal/lambdazip"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: lambdazip OUT.zip BOOTSTRAP")
		os.Exit(2)
	}
	if err := lambdazip.Write(os.Args[1], map[string]string{"bootstrap": os.Args[2]}); err != nil {
		fmt.Fprintf(os.Stderr, "lambdazip: %v\n", err)
		os.Exit(1)
	}
}
