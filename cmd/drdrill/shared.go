package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/target"
)

// The flags several commands share, defined once: the same name, default
// and help wherever they appear.

// defaultLabDir is where the lab lives unless --dir says otherwise.
func defaultLabDir() string {
	if d := os.Getenv("DRDRILL_LAB_DIR"); d != "" {
		return d
	}
	return ".drdrill/lab"
}

// dirFlag is --dir: the lab's directory.
func dirFlag(fs *pflag.FlagSet) *string {
	return fs.String("dir", defaultLabDir(), "lab directory (control socket, outputs, logs, fault ledger; $DRDRILL_LAB_DIR)")
}

// outputsFlag is --outputs: a deployed stack (AWS, or the twin) instead of
// a lab; its fault ledger lives beside it.
func outputsFlag(fs *pflag.FlagSet) *string {
	return fs.String("outputs", "", "outputs file of a deployed stack (e.g. cfn-outputs/flat-outputs.json, or a twin's); its fault ledger lives beside it")
}

// reportsFlag is --reports: where runs are written.
func reportsFlag(fs *pflag.FlagSet) *string {
	return fs.String("reports", "reports", "directory that receives reports/<run-id>/, or s3://bucket/prefix (the run is uploaded there when it ends, interrupted or not)")
}

// stageFlag is --stage: with --reports s3://…, where the run is written
// first (and kept).
func stageFlag(fs *pflag.FlagSet) *string {
	return fs.String("stage", "reports", "with --reports s3://…: the local directory the run is written to first, and kept")
}

func absDir(d string) (string, error) {
	if strings.TrimSpace(d) == "" {
		return "", usageError{"--dir must not be empty"}
	}
	return filepath.Abs(d)
}

// stackFlags are --dir (a lab) and --outputs (a deployed stack), shared by
// the commands that act on a target.
type stackFlags struct{ dir, outputs *string }

func newStackFlags(fs *pflag.FlagSet) stackFlags { return stackFlags{dirFlag(fs), outputsFlag(fs)} }

// open resolves --dir and opens the target and its ledger. A bad --dir is a
// usageError; any other error means the target could not be opened.
func (f stackFlags) open() (string, target.Target, *ledger.Ledger, error) {
	dir, err := absDir(*f.dir)
	if err != nil {
		return "", nil, nil, err
	}
	t, l, err := openTarget(dir, *f.outputs)
	return dir, t, l, err
}

// recoverCmd is the exact `drdrill recover` for these flags.
func (f stackFlags) recoverCmd(dir string) string {
	if *f.outputs != "" {
		out, _ := filepath.Abs(*f.outputs)
		return recoverCommand("", out)
	}
	return recoverCommand(dir, "")
}

// ledgerDir is where these flags' ledger (and abort requests) live.
func (f stackFlags) ledgerDir(dir string) string {
	if *f.outputs != "" {
		out, _ := filepath.Abs(*f.outputs)
		return filepath.Dir(out)
	}
	return dir
}

// openTarget opens --outputs if given, else the lab in dir.
func openTarget(dir, outputsFile string) (target.Target, *ledger.Ledger, error) {
	if outputsFile != "" {
		t, err := target.Open(outputsFile)
		if err != nil {
			return nil, nil, err
		}
		return t, ledger.Open(filepath.Dir(outputsFile)), nil
	}
	return openDir(dir)
}

// openDir opens the target and ledger of the lab in dir.
func openDir(dir string) (target.Target, *ledger.Ledger, error) {
	t, err := target.Open(filepath.Join(dir, lab.OutputsFile))
	if err != nil {
		return nil, nil, err
	}
	return t, ledger.Open(dir), nil
}
