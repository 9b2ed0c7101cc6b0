package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/drdrill/drdrill/internal/signoff"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{Use: "version", Short: "print drdrill's version from its build info: module version, commit, whether the tree was modified, commit time, Go",
		Args: noArgs("version takes no arguments"),
		RunE: func(*cobra.Command, []string) error {
			fmt.Println(buildVersion())
			return nil
		}}
}

// signoffPages are verdict's --markdown and --json: the sign-off page
// written to files beside the verdict on stdout.
type signoffPages struct{ markdown, json *string }

func (p *signoffPages) flags(fs *pflag.FlagSet) {
	p.markdown = fs.String("markdown", "", "also write the sign-off page (policy, window, runs included and excluded, commits, every bound's figure) as Markdown to this file")
	p.json = fs.String("json", "", "also write the sign-off page as JSON (schema drdrill.signoff/v1) to this file")
}

func (p *signoffPages) write(page signoff.Page) error {
	if p.markdown != nil && *p.markdown != "" {
		f, err := os.Create(*p.markdown)
		if err != nil {
			return fmt.Errorf("--markdown: %w", err)
		}
		if err := page.WriteMarkdown(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Printf("sign-off page: %s\n", *p.markdown)
	}
	if p.json != nil && *p.json != "" {
		b, _ := json.MarshalIndent(page, "", "  ")
		if err := os.WriteFile(*p.json, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
		fmt.Printf("sign-off page: %s\n", *p.json)
	}
	return nil
}

// buildVersion is drdrill's version from its build info: the module's
// version (devel outside a tagged build), the commit it was built from,
// "+modified" when the tree had changes, the commit time and Go's version.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (no build info) " + runtime.Version()
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var rev, at, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+modified"
			}
		}
	}
	out := "drdrill " + v
	if rev != "" {
		out += " commit " + rev + modified
	}
	if at != "" {
		out += " (" + at + ")"
	}
	return out + " " + bi.GoVersion
}
