package twin

import (
	"fmt"

	"github.com/drdrill/drdrill/internal/stackspec"
)

// runnerStack adds the scheduled runner infra/aws declares to the twin's
// stack: the reports bucket, the cluster, the task definition with its
// role's policy, and the schedule with its role's — each enforced as IAM
// enforces them (nil policies: allowed nothing, as a role without one).
func runnerStack(st *Stack, spec *stackspec.Spec) {
	r := spec.Runner
	if r == nil {
		return
	}
	st.Buckets = append(st.Buckets, Bucket{Name: r.Bucket, Region: r.Region, KMSKey: r.BucketKMSKey, Versioned: r.Versioned, Policy: r.BucketPolicy})
	st.Clusters = append(st.Clusters, r.Cluster)
	c := r.Task.Container
	st.TaskDefinitions = append(st.TaskDefinitions, TaskDefinition{Family: r.Task.Family, Region: r.Region, ARN: r.Task.ARN,
		TaskRole: r.Task.TaskRole, ExecutionRole: r.Task.ExecutionRole, Policy: parsedOrNothing(r.Task.TaskRolePolicies), Arch: r.Task.Arch,
		Container: ContainerDefinition{Name: c.Name, Image: c.Image, EntryPoint: c.EntryPoint, Command: c.Command, Environment: c.Environment,
			StopTimeout: c.StopTimeout, LogGroup: c.LogGroup, LogStreamPrefix: c.LogStreamPrefix}})
	sc := r.Schedule
	// The task's subnets map to the twin's ids as a function's do.
	_, subnets := functionSubnets(networks(spec), spec, stackspec.Function{Region: r.Region, Subnets: sc.Subnets})
	st.ScheduledTasks = append(st.ScheduledTasks, ScheduledTask{Name: sc.Name, Group: sc.Group, Region: r.Region, Expression: sc.Expression,
		Timezone: sc.Timezone, Enabled: sc.Enabled, FlexibleWindow: sc.FlexibleWindow, Role: sc.Role, RolePolicy: parsedOrNothing(sc.RolePolicies),
		Cluster: sc.Cluster, TaskDefinition: sc.TaskDefinition, Subnets: subnets, AssignPublicIP: sc.AssignPublicIP})
}

// seedRunner writes what an apply writes into the reports bucket: the
// outputs object — on the twin, the twin's own outputs file, the one
// `make outputs` would give for this stack — and the other objects as
// declared (the SLO policy).
func (s *Server) seedRunner(spec *stackspec.Spec, outputsJSON []byte) error {
	r := spec.Runner
	if r == nil {
		return nil
	}
	svc := serviceOf[*s3Service](s)
	for key, content := range r.Objects {
		body := []byte(content)
		if key == r.OutputsKey {
			body = outputsJSON
		}
		if err := svc.PutObject(r.Bucket, key, body, "application/json"); err != nil {
			return fmt.Errorf("AWS twin: the runner's %s: %w", key, err)
		}
	}
	return nil
}
