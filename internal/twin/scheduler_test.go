package twin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedulertypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
)

func TestScheduleExpressions(t *testing.T) {
	from := time.Date(2026, 12, 3, 10, 17, 0, 0, time.UTC) // a Thursday
	for _, c := range []struct{ expr, want string }{
		{"cron(0 6 ? * MON *)", "2026-12-07T06:00:00Z"},
		{"cron(30 6 ? * MON-FRI *)", "2026-12-04T06:30:00Z"},
		{"cron(0/15 * * * ? *)", "2026-12-03T10:30:00Z"},
		{"cron(0 0 1 JAN ? 2028)", "2028-01-01T00:00:00Z"},
		{"rate(15 minutes)", "2026-12-03T10:32:00Z"},
		{"rate(1 day)", "2026-12-04T10:17:00Z"},
		{"at(2026-12-24T18:00:00)", "2026-12-24T18:00:00Z"},
	} {
		e, err := parseScheduleExpr(c.expr, time.UTC)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		got, ok := e.next(from)
		if !ok || got.Format(time.RFC3339) != c.want {
			t.Errorf("%s after %s: %s (%v), want %s", c.expr, from.Format(time.RFC3339), got.Format(time.RFC3339), ok, c.want)
		}
	}
	for _, bad := range []string{"rate(1 minutes)", "rate(0 hours)", "cron(0 6 * * MON *)", "cron(0 6 ? * MON)", "cron(0 6 L * ? *)", "every monday", "cron(61 * * * ? *)"} {
		if _, err := parseScheduleExpr(bad, time.UTC); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
	if _, ok := atExpr(from.Add(-time.Hour)).next(from); ok {
		t.Error("an at() in the past fired")
	}
}

const schedulerRolePolicy = `{"Statement":[
 {"Effect":"Allow","Action":["ecs:RunTask"],"Resource":["arn:aws:ecs:us-west-2:123456789012:task-definition/drdrill-test-runner:*"],"Condition":{"StringEquals":{"ecs:cluster":"` + testCluster + `"}}},
 {"Effect":"Allow","Action":["iam:PassRole"],"Resource":["` + testTaskRole + `","arn:aws:iam::123456789012:role/drdrill-test-runner-execution"],"Condition":{"StringEquals":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}}]}`

// EventBridge Scheduler fires a schedule on the twin's scaled clock and
// runs its ECS task as its execution role; a role that may not pass the
// task role starts nothing and the firing records why. GetSchedule and
// ListSchedules answer the unmodified scheduler client.
func TestSchedulerFiresTheTaskAsItsRole(t *testing.T) {
	st := probeRunnerStack([]string{"drdrill-test-reports", "probe.json", "exit", "0"}, probePolicy)
	good, _ := ParsePolicies([]string{schedulerRolePolicy})
	noPass, _ := ParsePolicies([]string{strings.Replace(schedulerRolePolicy, `"`+testTaskRole+`",`, "", 1)})
	sched := ScheduledTask{Group: "default", Region: "us-west-2", Expression: "rate(1 minute)", Enabled: true,
		Role: "arn:aws:iam::123456789012:role/drdrill-test-scheduler", Cluster: testCluster, TaskDefinition: "arn:aws:ecs:us-west-2:123456789012:task-definition/drdrill-test-runner",
		Subnets: []string{"subnet-0b0000000000000fa"}}
	a, b := sched, sched
	a.Name, a.RolePolicy = "drdrill-test-drill", good
	b.Name, b.RolePolicy = "drdrill-test-cannot-pass", noPass
	st.ScheduledTasks = []ScheduledTask{a, b}
	srv := startRunnerTwin(t, st, 0.01) // a minute takes 600 ms
	sch := serviceOf[*schedulerService](srv)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var fired, refused int
		for _, r := range sch.Runs() {
			switch {
			case r.Schedule == a.Name && r.TaskARN != "":
				fired++
			case r.Schedule == b.Name && strings.Contains(r.Error, "iam:PassRole on resource: "+testTaskRole):
				refused++
			case true:
				t.Fatalf("unexpected firing: %+v", r)
			}
		}
		if fired >= 2 && refused >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s: %d runs of %s, %d refusals of %s: %+v", fired, a.Name, refused, b.Name, sch.Runs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var due []time.Time
	for _, r := range sch.Runs() {
		if r.Schedule == a.Name {
			due = append(due, r.Due)
		}
	}
	if gap := due[1].Sub(due[0]); gap != time.Minute {
		t.Errorf("firings of rate(1 minute) due %v apart", gap)
	}
	ctx := context.Background()
	c := scheduler.NewFromConfig(sdkConfig(t, srv.Endpoint(), "us-west-2"))
	got, err := c.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: awssdk.String(a.Name)})
	if err != nil {
		t.Fatal(err)
	}
	if awssdk.ToString(got.ScheduleExpression) != "rate(1 minute)" || got.State != schedulertypes.ScheduleStateEnabled ||
		got.FlexibleTimeWindow.Mode != schedulertypes.FlexibleTimeWindowModeOff || awssdk.ToString(got.Target.EcsParameters.TaskDefinitionArn) != a.TaskDefinition ||
		got.Target.EcsParameters.NetworkConfiguration.AwsvpcConfiguration.Subnets[0] != "subnet-0b0000000000000fa" {
		t.Fatalf("GetSchedule: %+v", got)
	}
	list, err := c.ListSchedules(ctx, &scheduler.ListSchedulesInput{NamePrefix: awssdk.String("drdrill-test-d")})
	if err != nil || len(list.Schedules) != 1 || awssdk.ToString(list.Schedules[0].Name) != a.Name {
		t.Fatalf("ListSchedules: %+v, %v", list, err)
	}
	var nf *schedulertypes.ResourceNotFoundException
	if _, err := c.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: awssdk.String("nope")}); !errors.As(err, &nf) {
		t.Fatalf("GetSchedule of a missing schedule: %v", err)
	}
}
