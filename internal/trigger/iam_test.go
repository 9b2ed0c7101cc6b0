package trigger

import (
	"context"
	"testing"

	"github.com/drdrill/drdrill/internal/awstest"
)

// Every SDK call the trigger makes, through every decision (none, wait,
// failover, switchover), must be granted by its role's policy in infra/aws
// — with the KMS actions its encrypted topic needs — or the call gets
// AccessDenied on AWS.
func TestTriggerPolicyGrantsEveryCallTheCodeMakes(t *testing.T) {
	var trig []*awstest.Stub
	for _, c := range []struct {
		w     world
		event string
	}{
		{world{peer: []float64{1, 1, 1}}, `{}`},
		{world{peer: []float64{0, 0, 0}}, `{}`},
		{world{peer: []float64{1, 1, 1}}, `{"action":"switchover"}`},
	} {
		s := c.w.stub()
		if _, err := trigger(t, s, false).Run(context.Background(), []byte(c.event)); err != nil {
			t.Fatal(err)
		}
		trig = append(trig, s)
	}
	granted := awstest.GrantedActions(t, "trigger")
	called := awstest.ActionsCalled(t, trig...)
	for _, a := range called {
		if !awstest.Grants(granted, a) {
			t.Errorf("aws_iam_role_policy.trigger does not grant %s, which the trigger needs (it grants %v)", a, granted)
		}
	}
	t.Logf("the trigger calls %v", called)
}
