package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/drdrill/drdrill/internal/outputs"
)

// Preflight resolves every target the faults would touch and prints the
// plan, with read-only calls only (FIS actionsMode=skip-all). It returns an
// error when a guard would refuse or a target resolves to nothing.
func (s *Stack) Preflight(ctx context.Context, w io.Writer) error {
	var problems []string
	line := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	line("drdrill AWS preflight — read-only: nothing is injected")
	if err := s.Guard(ctx); err != nil {
		problems = append(problems, err.Error())
		line("  guard:            REFUSED: %v", err)
	} else {
		line("  guard:            allowed (account allow-listed, global cluster tagged drdrill:allowed=true, no stop alarm firing)")
	}
	g, err := s.globalCluster(ctx)
	if err != nil {
		return fmt.Errorf("preflight: %w (earlier: %s)", err, strings.Join(problems, "; "))
	}
	writer, _, _ := s.WriterRegion(ctx)
	line("  global cluster:   %s (writer %s in %s, failover state %q)", awssdk.ToString(g.arn), g.writerARN, writer, g.failoverState)
	other := s.Out[outputs.SecondaryRegion]
	if writer == other {
		other = s.Out[outputs.PrimaryRegion]
	}
	target, _ := s.clusterARN(other)
	if len(g.resyncing) > 0 {
		// A switchover is refused until every member is in sync again.
		problems = append(problems, fmt.Sprintf("global cluster members pending-resync (rebuilt after a failover): %s; the promotion faults wait for them", strings.Join(g.resyncing, ", ")))
		line("  members:          PENDING-RESYNC %s (being rebuilt after a failover: a switchover is refused until it is in sync)", strings.Join(g.resyncing, ", "))
	} else {
		line("  members:          every member in sync (connected)")
	}
	line("  planned-switchover  → SwitchoverGlobalCluster to %s (%s)", target, other)
	line("  unplanned-failover  → FailoverGlobalCluster AllowDataLoss=true to %s (%s)", target, other)

	for _, r := range []Regional{s.Primary, s.Secondary} {
		key, aclKey, fnKey := "PrimaryDatabaseSubnetIds", "PrimaryDatabaseNetworkAclId", "PrimaryHealthMonitorFunctionName"
		if r.Region == s.Secondary.Region {
			key, aclKey, fnKey = "SecondaryDatabaseSubnetIds", "SecondaryDatabaseNetworkAclId", "SecondaryHealthMonitorFunctionName"
		}
		var subnets []string
		_ = json.Unmarshal([]byte(s.Out[key]), &subnets)
		acls, err := r.EC2.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: []ec2types.Filter{{Name: awssdk.String("association.subnet-id"), Values: subnets}}})
		found := 0
		if err == nil {
			for _, a := range acls.NetworkAcls {
				for _, as := range a.Associations {
					for _, sn := range subnets {
						if awssdk.ToString(as.SubnetId) == sn {
							found++
						}
					}
				}
			}
		}
		if len(subnets) == 0 || found != len(subnets) {
			problems = append(problems, fmt.Sprintf("region-isolation in %s: %d of %d database subnets resolved (%v)", r.Region, found, len(subnets), err))
			line("  region-isolation  → %s: EMPTY/UNRESOLVED targets, would refuse", r.Region)
		} else {
			line("  region-isolation  → %s: deny-all NACL on %v (now on %s), restored on rollback", r.Region, subnets, s.Out[aclKey])
		}
		// A network ACL does not filter traffic inside a subnet (FIS
		// disrupt-connectivity scope "all" still allows intra-subnet
		// traffic): a health monitor in a database subnet keeps seeing its
		// database through the isolation, and the drill would measure a
		// failover decision made on a region that looked healthy.
		fn := s.Out[fnKey]
		cfg, err := r.Lambda.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: awssdk.String(fn)})
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("region-isolation in %s: the health monitor's subnets: GetFunctionConfiguration %s: %v", r.Region, fn, err))
			line("  region-isolation  → %s: health monitor %s's subnets UNRESOLVED (%v)", r.Region, fn, err)
		case cfg.VpcConfig != nil:
			var shared []string
			for _, sn := range cfg.VpcConfig.SubnetIds {
				if slices.Contains(subnets, sn) {
					shared = append(shared, sn)
				}
			}
			if len(shared) > 0 {
				problems = append(problems, fmt.Sprintf("region-isolation in %s: health monitor %s runs in database subnet(s) %v, and a network ACL does not cut traffic inside a subnet: it would still see its database through the isolation; give it subnets of its own (infra/aws: aws_subnet.functions_*)", r.Region, fn, shared))
				line("  region-isolation  → %s: INCOMPLETE: health monitor %s shares database subnet(s) %v, which an ACL does not cut inside", r.Region, fn, shared)
			}
		}
	}
	for _, fn := range []struct{ region, name string }{{s.Primary.Region, s.Out["PrimaryHealthMonitorFunctionName"]}, {s.Secondary.Region, s.Out["SecondaryHealthMonitorFunctionName"]}} {
		r, _ := s.regional(fn.region)
		c, err := r.Lambda.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: awssdk.String(fn.name)})
		if err != nil {
			problems = append(problems, fmt.Sprintf("monitor-failure: %s: %v", fn.name, err))
			line("  monitor-failure   → %s: UNRESOLVED (%v)", fn.name, err)
			continue
		}
		now := "unreserved"
		if c.ReservedConcurrentExecutions != nil {
			now = fmt.Sprint(*c.ReservedConcurrentExecutions)
		}
		line("  monitor-failure   → PutFunctionConcurrency 0 on %s (now %s), restored on rollback", fn.name, now)
	}
	for _, id := range []string{s.Out["PrimaryHealthCheckId"], s.Out["SecondaryHealthCheckId"]} {
		hc, err := s.Route53.GetHealthCheck(ctx, &route53.GetHealthCheckInput{HealthCheckId: awssdk.String(id)})
		if err != nil {
			problems = append(problems, fmt.Sprintf("health check %s: %v", id, err))
			line("  health check %s: UNRESOLVED (%v)", id, err)
			continue
		}
		line("  health check %s (%s) → observed during drills", id, hc.HealthCheck.HealthCheckConfig.Type)
	}
	states, err := s.AlarmStates(ctx, []string{s.Out[outputs.ReplicationLagAlarmName]})
	if err != nil || len(states) == 0 {
		problems = append(problems, fmt.Sprintf("alarm path: alarm %s not found (%v)", s.Out[outputs.ReplicationLagAlarmName], err))
	} else {
		if _, err := s.ResolveAlarmPath(ctx); err != nil {
			problems = append(problems, "alarm-path: "+err.Error())
			line("  alarm-path        → %v", err)
		} else {
			line("  alarm-path        → SetAlarmState ALARM on %s (now %s); delivery proven through a temporary SQS queue subscribed to %s, removed on rollback",
				s.Out[outputs.ReplicationLagAlarmName], states[s.Out[outputs.ReplicationLagAlarmName]], s.Out["SecondarySNSTopicArn"])
		}
	}
	if len(s.StopAlarms) > 0 {
		line("  stop conditions:  %s", strings.Join(s.StopAlarms, ", "))
	} else {
		line("  stop conditions:  none configured (set DRDRILL_STOP_ALARMS)")
	}
	if len(problems) > 0 {
		line("verdict: NOT READY")
		return &NotReadyError{Problems: problems}
	}
	line("verdict: READY")
	return nil
}

// NotReadyError is the preflight's verdict that the stack is not ready for
// a drill (as opposed to a preflight that could not run).
type NotReadyError struct{ Problems []string }

func (e *NotReadyError) Error() string {
	return fmt.Sprintf("preflight found %d problem(s): %s", len(e.Problems), strings.Join(e.Problems, "; "))
}
