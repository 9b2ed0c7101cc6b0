// Command drdrill-image builds drdrill's runner image without a container
// daemon and pushes it: `make image` and `make push IMAGE=…`.
//
//	drdrill-image build [--out build/image] [--platforms linux/amd64,linux/arm64]
//	drdrill-image push [--layout build/image] [--username AWS --password-stdin] IMAGE
//	drdrill-image digest [--layout build/image]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/drdrill/drdrill/internal/ociimage"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = build(os.Args[2:])
	case "push":
		err = push(os.Args[2:])
	case "digest":
		err = digest(os.Args[2:])
	default:
		usage()
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "drdrill-image %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage: drdrill-image build|push|digest [flags]
  build   compile drdrill, ginkgo and drill.test (static) per platform and write the runner image as an OCI layout
  push    push the OCI layout's image index to IMAGE (REGISTRY/REPOSITORY:TAG)
  digest  print the OCI layout's index digest`)
}

func build(args []string) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	out := fs.String("out", "build/image", "OCI layout directory to write (replaced)")
	bins := fs.String("bin-dir", "build/image-bin", "where the per-platform binaries go")
	platforms := fs.String("platforms", "linux/amd64,linux/arm64", "comma-separated os/arch list")
	ca := fs.String("ca", "/etc/ssl/certs/ca-certificates.crt", "CA bundle copied into the image")
	module := fs.String("module", ".", "the drdrill module's root")
	if err := fs.Parse(args); err != nil {
		return err
	}
	mod, err := filepath.Abs(*module)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(mod, "go.mod")); err != nil {
		return fmt.Errorf("--module %s has no go.mod: run from the drdrill checkout (or `make image`)", mod)
	}
	d, err := ociimage.BuildRunner(ociimage.BuildOptions{Module: mod, Platforms: strings.Split(*platforms, ","), Layout: *out, BinDir: *bins, CA: *ca,
		Log: func(f string, a ...any) { fmt.Printf("  "+f+"\n", a...) }})
	if err != nil {
		return err
	}
	fmt.Printf("built %s (OCI layout, %s): %s\n", *out, *platforms, d)
	return nil
}

func push(args []string) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	dir := fs.String("layout", "build/image", "OCI layout directory (`make image`)")
	user := fs.String("username", "", "registry user name (with --password-stdin; ECR: AWS)")
	stdin := fs.Bool("password-stdin", false, "read the registry password from stdin (`aws ecr get-login-password | …`)")
	var ref string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		ref, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if ref == "" && fs.NArg() > 0 {
		ref = fs.Arg(0)
	}
	if ref == "" {
		return errors.New("which registry? give IMAGE, e.g. `make push IMAGE=123456789012.dkr.ecr.us-west-2.amazonaws.com/drdrill-prod-runner:v1`")
	}
	var auth authn.Authenticator
	if *stdin {
		pw, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && pw == "" {
			return fmt.Errorf("--password-stdin: nothing on stdin: pipe the password in, e.g. aws ecr get-login-password --region REGION | …")
		}
		if *user == "" {
			return errors.New("--password-stdin needs --username (ECR's is AWS)")
		}
		auth = &authn.Basic{Username: *user, Password: strings.TrimSpace(pw)}
	}
	d, err := ociimage.Push(context.Background(), *dir, ref, auth)
	if err != nil {
		return err
	}
	fmt.Printf("pushed %s@%s\n", ref, d)
	return nil
}

func digest(args []string) error {
	fs := flag.NewFlagSet("digest", flag.ContinueOnError)
	dir := fs.String("layout", "build/image", "OCI layout directory (`make image`)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	idx, err := ociimage.ReadLayout(*dir)
	if err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Println(d)
	return nil
}
