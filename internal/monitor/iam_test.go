package monitor

import (
	"context"
	"slices"
	"testing"

	"github.com/drdrill/drdrill/internal/awstest"
)

// Every SDK call the monitor makes, as secondary (it reads the lag) and as
// primary, must be granted by its role's policy in infra/aws — with the KMS
// action the encrypted secret needs — or the call gets AccessDenied on AWS.
func TestMonitorPolicyGrantsEveryCallTheCodeMakes(t *testing.T) {
	var mon []*awstest.Stub
	for _, primary := range []bool{false, true} {
		s := monitorStub("available", primary, `{"username":"admin","password":"pw"}`)
		if _, err := monitor(t, s, okProbe).Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		mon = append(mon, s)
	}
	granted := awstest.GrantedActions(t, "monitor")
	called := awstest.ActionsCalled(t, mon...)
	for _, a := range called {
		if !awstest.Grants(granted, a) {
			t.Errorf("aws_iam_role_policy.monitor does not grant %s, which the monitor needs (it grants %v)", a, granted)
		}
	}
	t.Logf("the monitor calls %v", called)
}

// The interface endpoints are the idle stack's largest cost: each region
// gets exactly the services its functions in the VPC call — the monitor,
// in both — derived from the calls the code makes. The trigger runs
// outside the VPCs (lambda.tf gives it no vpc_config) and needs none.
func TestEndpointsAreWhatTheMonitorsCall(t *testing.T) {
	if inVPC := awstest.FunctionsInVPC(t); !slices.Equal(inVPC, []string{"monitor_primary", "monitor_secondary"}) {
		t.Fatalf("the functions in a VPC are %v: this test derives the endpoints from the monitor's calls alone; derive them from the others' too", inVPC)
	}
	var mon []*awstest.Stub
	for _, primary := range []bool{false, true} {
		s := monitorStub("available", primary, `{"username":"admin","password":"pw"}`)
		if _, err := monitor(t, s, okProbe).Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		mon = append(mon, s)
	}
	want := awstest.Called(t, "EndpointService", func(svc, _ string) ([]string, bool) {
		name, ok := awstest.EndpointService[svc]
		return []string{name}, ok
	}, mon...)
	for _, local := range []string{"endpoint_services_primary", "endpoint_services_secondary"} {
		if got := awstest.EndpointSet(t, local); !slices.Equal(got, want) {
			t.Errorf("local.%s = %v; the functions in that region's VPC call %v: add what is missing (their calls fail without NAT), drop what nothing calls (it costs every hour)", local, got, want)
		}
	}
}
