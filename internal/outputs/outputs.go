// Package outputs reads and writes the deployment outputs file
// (cfn-outputs/flat-outputs.json): a flat JSON object of output name to
// string. It is the one contract between a deployment — the AWS stack or the
// embedded lab — and the suites that drill it.
package outputs

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Outputs maps output names to values.
type Outputs map[string]string

// Names the harness reads. The first block comes from the AWS stack's spec;
// the lab writes the ones that apply to it.
const (
	GlobalClusterIdentifier    = "GlobalClusterIdentifier"
	PrimaryClusterIdentifier   = "PrimaryClusterIdentifier"
	SecondaryClusterIdentifier = "SecondaryClusterIdentifier"
	PrimaryClusterEndpoint     = "PrimaryClusterEndpoint"
	SecondaryClusterEndpoint   = "SecondaryClusterEndpoint"
	GlobalWriterEndpoint       = "GlobalWriterEndpoint"
	ReplicationLagAlarmName    = "ReplicationLagAlarmName"
	PrimaryRegion              = "PrimaryRegion"
	SecondaryRegion            = "SecondaryRegion"
	DatabaseName               = "DatabaseName"

	// TargetKind is "lab" or "aws".
	TargetKind = "TargetKind"
	// Lab-only keys.
	LabDir           = "LabDir"
	LabControlSocket = "LabControlSocket"
	LabAppUser       = "LabAppUser"
	LabAppPassword   = "LabAppPassword"
)

// Read loads an outputs file. Every failure names the file and the fix.
func Read(path string) (Outputs, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("outputs file %s does not exist: start the lab (`drdrill lab up`) or write it from Terraform (`make outputs`)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("outputs file %s: %w", path, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("outputs file %s is not valid JSON (at byte %d: %v): regenerate it", path, se.Offset, err)
		}
		return nil, fmt.Errorf("outputs file %s must be one flat JSON object of name to string: %v", path, err)
	}
	o := Outputs{}
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			o[k] = v
		case nil:
			return nil, fmt.Errorf("outputs file %s: %q is null: the deployment did not set it", path, k)
		default:
			// Lists and maps are JSON-encoded strings in a flat file; a raw
			// structure means the file came from `terraform output -json`
			// without flattening.
			return nil, fmt.Errorf("outputs file %s: %q is a %T, not a string: flatten it (`make outputs` writes lists and maps as JSON strings)", path, k, v)
		}
	}
	return o, nil
}

// Require returns an error listing every missing or empty key.
func (o Outputs) Require(keys ...string) error {
	var missing []string
	for _, k := range keys {
		if strings.TrimSpace(o[k]) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("outputs lack %s: the deployment must declare them", strings.Join(missing, ", "))
	}
	return nil
}

// Write saves the outputs atomically (readers never see half a file).
func (o Outputs) Write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
