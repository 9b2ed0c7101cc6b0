package aws_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// The runner attaches with the outputs object the stack writes to its
// bucket: it must carry every output outputs.tf declares, with the same
// value (lists JSON-encoded, as `drdrill outputs` flattens them), or a
// scheduled drill reads a stack that `make outputs` would not describe.
func TestRunnerOutputsObjectCarriesEveryOutput(t *testing.T) { checkRunnerOutputs(t, ".") }

func checkRunnerOutputs(t reporter, dir string) {
	t.Helper()
	m := parse(t, dir)
	object := map[string]string{}
	for _, b := range m.blocks("locals") {
		a, ok := b.Body.Attributes["runner_outputs"]
		if !ok {
			continue
		}
		obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr)
		if !ok {
			t.Fatalf("local.runner_outputs is not an object")
		}
		for _, it := range obj.Items {
			object[strings.Trim(m.text(it.KeyExpr.Range()), `"`)] = m.text(it.ValueExpr.Range())
		}
	}
	if len(object) == 0 {
		t.Fatalf("no local.runner_outputs in %s", dir)
	}
	declared := 0
	for _, b := range m.blocks("output") {
		if filepath.Base(b.Range().Filename) != "outputs.tf" {
			continue // the runner's own outputs describe the runner, not the stack it drills
		}
		declared++
		name, value := b.Labels[0], m.text(b.Body.Attributes["value"].Expr.Range())
		got, ok := object[name]
		switch {
		case !ok:
			t.Errorf("output %s is not in local.runner_outputs (runner.tf): the scheduled runner would not see it; add %s = %s", name, name, value)
		case got != value && got != "jsonencode("+value+")":
			t.Errorf("output %s is %s, but the runner's outputs object has %s", name, value, got)
		}
	}
	if len(object) != declared {
		t.Errorf("local.runner_outputs has %d entries, outputs.tf declares %d outputs", len(object), declared)
	}
}

// The runner sits in the function subnets of its region: outside the
// database subnets (a network ACL does not filter traffic inside a
// subnet, so a runner there would keep its database path through a region
// isolation), and on a route table with a way out to the AWS APIs of both
// regions (the NAT route), which the database subnets' route table lacks.
func TestRunnerLivesInTheFunctionSubnets(t *testing.T) { checkRunnerPlacement(t, ".") }

func checkRunnerPlacement(t reporter, dir string) {
	t.Helper()
	m := parse(t, dir)
	isolated := map[string]bool{}
	subnetTable := map[string]string{} // aws_subnet → aws_route_table
	natTables := map[string]bool{}
	for _, b := range m.blocks("resource") {
		if len(b.Labels) != 2 {
			continue
		}
		switch b.Labels[0] {
		case "aws_network_acl":
			for _, g := range subnetRef.FindAllStringSubmatch(m.text(b.Body.Attributes["subnet_ids"].Expr.Range()), -1) {
				isolated[g[1]] = true
			}
		case "aws_route_table_association":
			sn := subnetRef.FindStringSubmatch(m.text(b.Body.Attributes["subnet_id"].Expr.Range()))
			rt := m.text(b.Body.Attributes["route_table_id"].Expr.Range())
			if sn != nil {
				subnetTable[sn[1]] = strings.TrimSuffix(strings.TrimSuffix(rt, ".id"), "[0]")
			}
		case "aws_route":
			if _, ok := b.Body.Attributes["nat_gateway_id"]; ok {
				rt := m.text(b.Body.Attributes["route_table_id"].Expr.Range())
				natTables[strings.TrimSuffix(strings.TrimSuffix(rt, ".id"), "[0]")] = true
			}
		}
	}
	schedules := 0
	for _, b := range m.blocks("resource") {
		if len(b.Labels) != 2 || b.Labels[0] != "aws_scheduler_schedule" {
			continue
		}
		schedules++
		var subnets *hclsyntax.Attribute
		hclsyntax.VisitAll(b.Body, func(n hclsyntax.Node) (d hcl.Diagnostics) {
			if blk, ok := n.(*hclsyntax.Block); ok && blk.Type == "network_configuration" {
				subnets = blk.Body.Attributes["subnets"]
			}
			return nil
		})
		if subnets == nil {
			t.Errorf("aws_scheduler_schedule.%s runs its task without a network configuration", b.Labels[1])
			continue
		}
		refs := subnetRef.FindAllStringSubmatch(m.text(subnets.Expr.Range()), -1)
		if len(refs) == 0 {
			t.Errorf("aws_scheduler_schedule.%s: its subnets name no aws_subnet", b.Labels[1])
		}
		for _, g := range refs {
			if isolated[g[1]] {
				t.Errorf("aws_scheduler_schedule.%s runs the drill in aws_subnet.%s, a database subnet: an isolation of that subnet does not cut traffic inside it", b.Labels[1], g[1])
			}
			if rt := subnetTable[g[1]]; !natTables[rt] {
				t.Errorf("aws_scheduler_schedule.%s runs the drill in aws_subnet.%s, whose route table %s has no NAT route: the harness cannot reach RDS, CloudWatch or EC2 in the other region (PrivateLink does not cross regions for them)", b.Labels[1], g[1], rt)
			}
		}
	}
	if schedules == 0 {
		t.Fatalf("no aws_scheduler_schedule in %s", dir)
	}
	for sn := range isolated {
		if natTables[subnetTable[sn]] {
			t.Errorf("aws_subnet.%s, a database subnet, is on %s, which routes to the NAT gateway", sn, subnetTable[sn])
		}
	}
}
