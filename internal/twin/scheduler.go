package twin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go"
)

// schedulerAPI is EventBridge Scheduler as the twin serves it (restJson1:
// GetSchedule, ListSchedules) and runs it: each schedule infra/aws
// declares fires at the times its expression gives — on the twin's scaled
// clock — and, as its execution role, runs its ECS task. The scheduler
// SDK has no schema serializers, so answers are written as the JSON the
// Scheduler API Reference gives.
var schedulerAPI = service{
	name: "scheduler", protocols: []protocol{restJSON1},
	routes: []route{
		{method: "GET", path: "/schedules/{Name}", action: "GetSchedule"},
		{method: "GET", path: "/schedules", action: "ListSchedules"},
	},
	throttling: APIError{Status: http.StatusTooManyRequests, Code: "ThrottlingException", Sender: true, Message: "Rate exceeded"},
	iam: iamRules{prefix: "scheduler", required: func(s *Server, c *call) []authorization {
		if c.Action != "GetSchedule" {
			return nil
		}
		group := c.Query.Get("groupName")
		if group == "" {
			group = "default"
		}
		return []authorization{{action: "scheduler:GetSchedule", resource: fmt.Sprintf("arn:aws:scheduler:%s:%s:schedule/%s/%s", c.Region, s.cfg.Account, group, str(c.Params, "Name"))}}
	}, denied: APIError{Status: http.StatusForbidden, Code: "AccessDeniedException", Sender: true}},
	start: func(s *Server) (handler, error) {
		sch := &schedulerService{srv: s, epoch: time.Now()}
		for _, st := range s.stack.ScheduledTasks {
			loc, err := time.LoadLocation(st.Timezone)
			if st.Timezone == "" {
				loc, err = time.UTC, nil
			}
			if err != nil {
				return nil, fmt.Errorf("AWS twin: schedule %s: timezone %q: %v", st.Name, st.Timezone, err)
			}
			expr, err := parseScheduleExpr(st.Expression, loc)
			if err != nil {
				return nil, fmt.Errorf("AWS twin: schedule %s: %v", st.Name, err)
			}
			sch.loops.Add(1)
			go sch.fire(st, expr)
		}
		return sch, nil
	},
}

// ScheduledTask is an aws_scheduler_schedule whose target is ECS RunTask.
type ScheduledTask struct {
	Name, Group, Region string
	// Expression is rate(), cron() or at(); Timezone its
	// ScheduleExpressionTimezone (UTC when "").
	Expression, Timezone string
	Enabled              bool
	// FlexibleWindow is the flexible time window's maximum (0: OFF).
	FlexibleWindow time.Duration
	// Role is the execution role the schedule invokes its target as, and
	// RolePolicy its policy: RunTask and the roles it passes must be
	// allowed by it (nil: allowed nothing).
	Role       string
	RolePolicy *Policy
	// Cluster, TaskDefinition (ARNs) and Subnets are its ECS parameters.
	Cluster, TaskDefinition string
	Subnets, SecurityGroups []string
	AssignPublicIP          bool
}

// ScheduleRun is one firing of a schedule: when (the scaled AWS time it
// was due, and the real time it fired), and the task it started or why
// it could not.
type ScheduleRun struct {
	Schedule string
	Due, At  time.Time
	TaskARN  string
	Error    string
}

type schedulerService struct {
	srv   *Server
	epoch time.Time // the twin's start: AWS time and real time agree there
	mu    sync.Mutex
	runs  []ScheduleRun
	loops sync.WaitGroup
}

// awsTime is the scheduler's clock: AWS time runs 1/scale as fast as the
// machine's from the twin's start.
func (sch *schedulerService) awsTime(real time.Time) time.Time {
	sc := sch.srv.cfg.TimeScale
	if sc <= 0 || sc == 1 {
		return real
	}
	return sch.epoch.Add(time.Duration(float64(real.Sub(sch.epoch)) / sc))
}

// fire runs one schedule until the twin stops: wait (scaled) for the next
// time its expression gives — the end of its flexible window, the latest
// it may fire — then run its target.
func (sch *schedulerService) fire(st ScheduledTask, expr scheduleExpr) {
	defer sch.loops.Done()
	due := sch.epoch // the schedule's creation: a rate counts from it
	for st.Enabled {
		next, ok := expr.next(due)
		if !ok {
			return
		}
		due = next
		fireAt := next.Add(st.FlexibleWindow)
		wait := sch.srv.cfg.scaled(fireAt.Sub(sch.awsTime(time.Now())))
		select {
		case <-sch.srv.stop:
			return
		case <-time.After(max(wait, 0)):
		}
		run := ScheduleRun{Schedule: st.Name, Due: due, At: time.Now()}
		if arn, err := sch.runTarget(st); err != nil {
			run.Error = err.Error()
		} else {
			run.TaskARN = arn
		}
		sch.mu.Lock()
		sch.runs = append(sch.runs, run)
		sch.mu.Unlock()
	}
}

// runTarget calls ECS RunTask as the schedule's execution role, which
// must be allowed ecs:RunTask on the task definition (in the cluster) and
// iam:PassRole on the task's roles to ecs-tasks.amazonaws.com (ECS
// Developer Guide, "Amazon ECS EventBridge IAM Role": "you must add
// iam:PassRole permissions for each task execution role, task role").
func (sch *schedulerService) runTarget(st ScheduledTask) (string, error) {
	e := serviceOf[*ecsService](sch.srv)
	if e == nil {
		return "", fmt.Errorf("the twin runs no ECS")
	}
	td, apiErr := e.taskDefinition(st.Region, st.TaskDefinition)
	if apiErr != nil {
		return "", apiErr
	}
	p := st.RolePolicy
	if p == nil {
		p = &Policy{}
	}
	need := []authorization{{action: "ecs:RunTask", resource: td.ARN, keys: map[string]string{"ecs:cluster": st.Cluster}}}
	for _, r := range []string{td.TaskRole, td.ExecutionRole} {
		if r != "" {
			need = append(need, authorization{action: "iam:PassRole", resource: r, keys: map[string]string{"iam:PassedToService": "ecs-tasks.amazonaws.com"}})
		}
	}
	for _, a := range need {
		if !p.Allows(a.action, a.resource, a.keys) {
			return "", fmt.Errorf("AccessDeniedException: %s is not authorized to perform: %s on resource: %s", st.Role, a.action, a.resource)
		}
	}
	t, apiErr := e.RunTask(RunTaskInput{Region: st.Region, Cluster: st.Cluster, TaskDefinition: td.ARN, Subnets: st.Subnets})
	if apiErr != nil {
		return "", apiErr
	}
	return t.arn, nil
}

// Runs are the schedules' firings so far, oldest first.
func (sch *schedulerService) Runs() []ScheduleRun {
	sch.mu.Lock()
	defer sch.mu.Unlock()
	return slices.Clone(sch.runs)
}

func (sch *schedulerService) close() { sch.loops.Wait() }

func (sch *schedulerService) arn(st ScheduledTask) string {
	return fmt.Sprintf("arn:aws:scheduler:%s:%s:schedule/%s/%s", st.Region, sch.srv.cfg.Account, st.Group, st.Name)
}

// handle answers GetSchedule and ListSchedules in the JSON of the
// Scheduler API Reference.
func (sch *schedulerService) handle(c *call) (smithy.Serializable, *APIError) {
	var found []ScheduledTask
	for _, st := range sch.srv.stack.ScheduledTasks {
		if st.Region == c.Region {
			found = append(found, st)
		}
	}
	answer := func(v any) (smithy.Serializable, *APIError) {
		b, _ := json.Marshal(v)
		return httpAnswer{Header: http.Header{"Content-Type": {"application/json"}}, Body: b}, nil
	}
	state := func(st ScheduledTask) string {
		if st.Enabled {
			return "ENABLED"
		}
		return "DISABLED"
	}
	created := float64(sch.epoch.Unix())
	switch c.Action {
	case "GetSchedule":
		group := c.Query.Get("groupName")
		if group == "" {
			group = "default"
		}
		for _, st := range found {
			if st.Name != str(c.Params, "Name") || st.Group != group {
				continue
			}
			window := map[string]any{"Mode": "OFF"}
			if st.FlexibleWindow > 0 {
				window = map[string]any{"Mode": "FLEXIBLE", "MaximumWindowInMinutes": int(st.FlexibleWindow / time.Minute)}
			}
			assign := "DISABLED"
			if st.AssignPublicIP {
				assign = "ENABLED"
			}
			return answer(map[string]any{"Arn": sch.arn(st), "Name": st.Name, "GroupName": st.Group, "State": state(st),
				"ScheduleExpression": st.Expression, "ScheduleExpressionTimezone": st.Timezone, "FlexibleTimeWindow": window,
				"CreationDate": created, "LastModificationDate": created, "ActionAfterCompletion": "NONE",
				"Target": map[string]any{"Arn": st.Cluster, "RoleArn": st.Role,
					"RetryPolicy": map[string]any{"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185},
					"EcsParameters": map[string]any{"TaskDefinitionArn": st.TaskDefinition, "TaskCount": 1, "LaunchType": "FARGATE",
						"NetworkConfiguration": map[string]any{"awsvpcConfiguration": map[string]any{"Subnets": st.Subnets, "SecurityGroups": st.SecurityGroups, "AssignPublicIp": assign}}}}})
		}
		return nil, &APIError{Status: http.StatusNotFound, Code: "ResourceNotFoundException", Sender: true,
			Message: fmt.Sprintf("Schedule %s does not exist.", str(c.Params, "Name"))}
	case "ListSchedules":
		list := []any{}
		for _, st := range found {
			if p := c.Query.Get("NamePrefix"); p != "" && !strings.HasPrefix(st.Name, p) {
				continue
			}
			if g := c.Query.Get("ScheduleGroup"); g != "" && g != st.Group {
				continue
			}
			if s := c.Query.Get("State"); s != "" && s != state(st) {
				continue
			}
			list = append(list, map[string]any{"Arn": sch.arn(st), "Name": st.Name, "GroupName": st.Group, "State": state(st),
				"CreationDate": created, "LastModificationDate": created, "Target": map[string]any{"Arn": st.Cluster}})
		}
		return answer(map[string]any{"Schedules": list})
	}
	return nil, unmodelled(c)
}
