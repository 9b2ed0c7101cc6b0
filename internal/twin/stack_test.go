package twin

import (
	"strings"
	"testing"

	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/stackspec"
)

// The twin's outputs file carries every output infra/aws declares, with
// values, so the AWS target (and anything else reading the outputs) finds
// what a real deployment would give it.
func TestTwinOutputsCarryEveryDeclaredOutput(t *testing.T) {
	spec, err := stackspec.Load("../../infra/aws", "123456789012", map[string]string{"environment_suffix": "twin"})
	if err != nil {
		t.Fatal(err)
	}
	lab := outputs.Outputs{outputs.GlobalWriterEndpoint: "127.0.0.1:1", outputs.PrimaryClusterEndpoint: "127.0.0.1:2",
		outputs.SecondaryClusterEndpoint: "127.0.0.1:3", outputs.LabAppUser: "u", outputs.LabAppPassword: "p"}
	out := Outputs(spec, "123456789012", lab)
	if len(spec.OutputNames) < 30 {
		t.Fatalf("only %d outputs read from infra/aws", len(spec.OutputNames))
	}
	for _, name := range spec.OutputNames {
		if strings.TrimSpace(out[name]) == "" {
			t.Errorf("output %s is declared in infra/aws but empty on the twin", name)
		}
	}
	if out[outputs.TargetKind] != "aws" || out[outputs.GlobalWriterEndpoint] != "127.0.0.1:1" {
		t.Fatalf("kind %q writer %q", out[outputs.TargetKind], out[outputs.GlobalWriterEndpoint])
	}
	// Names a real apply would give (function_name = local.fn_*).
	if out["PrimaryHealthMonitorFunctionName"] != "drdrill-twin-health-monitor-primary" || out["FailoverTriggerFunctionName"] != "drdrill-twin-failover-trigger" {
		t.Errorf("function names %q, %q: not the stack's", out["PrimaryHealthMonitorFunctionName"], out["FailoverTriggerFunctionName"])
	}
	for k := range out {
		if strings.HasPrefix(k, "Lab") {
			t.Errorf("the twin's outputs carry the lab's %s: the AWS target must not know it is on a twin", k)
		}
	}
}
