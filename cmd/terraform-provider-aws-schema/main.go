// Command terraform-provider-aws-schema is drdrill's schema-only stand-in
// for hashicorp/aws (see internal/schemaprovider). `make validate` installs
// it with -plugin-dir; it reads the schemas from $DRDRILL_AWS_SCHEMA_DIR.
package main

import (
	"fmt"
	"os"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tfprotov5/tf5server"

	"github.com/drdrill/drdrill/internal/schemaprovider"
)

func main() {
	dir := os.Getenv("DRDRILL_AWS_SCHEMA_DIR")
	if dir == "" {
		fmt.Fprintln(os.Stderr, "terraform-provider-aws-schema: set DRDRILL_AWS_SCHEMA_DIR to a hashicorp/aws schema directory (../shared/aws-provider-schema/6.19.0)")
		os.Exit(1)
	}
	s, err := schemaprovider.Load(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "terraform-provider-aws-schema: %v\n", err)
		os.Exit(1)
	}
	if err := tf5server.Serve("registry.terraform.io/hashicorp/aws", func() tfprotov5.ProviderServer { return &schemaprovider.Server{S: s} }); err != nil {
		fmt.Fprintf(os.Stderr, "terraform-provider-aws-schema: %v\n", err)
		os.Exit(1)
	}
}
