package twin

import (
	"context"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// #22 item 5: EC2 is eventually consistent ("Eventual consistency in the
// Amazon EC2 API"): a network ACL just created answers
// InvalidNetworkAclID.NotFound to the calls that name it, and an
// association just replaced is neither what DescribeNetworkAcls shows nor
// usable by its new id, each for a draw up to Worst.EC2Propagation —
// while the subnet itself is cut at once. Before, every answer was
// immediate and exact: the ACL was usable the moment it was created.
func TestEC2IsEventuallyConsistent(t *testing.T) {
	plane := &fixedPlane{primary: "us-east-1", regions: map[string]RegionState{"us-east-1": {Available: true}, "us-west-2": {Available: true}}}
	st := testStack()
	st.Networks = []Network{{Region: "us-east-1", VPC: "vpc-1", Subnets: []string{"subnet-a", "subnet-b"}, DefaultACL: "acl-1"}}
	const bound = 2 * time.Second
	srv, err := Start("127.0.0.1:0", Config{Account: "123456789012", Seed: 22, Worst: Worst{EC2Propagation: bound}}, st, plane)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	c := ec2.NewFromConfig(sdkConfig(t, srv.Endpoint(), "us-east-1"))
	seen := func(subnet string) (acl, assoc string) {
		t.Helper()
		out, err := c.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: []ec2types.Filter{{Name: awssdk.String("association.subnet-id"), Values: []string{subnet}}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range out.NetworkAcls {
			for _, as := range a.Associations {
				if awssdk.ToString(as.SubnetId) == subnet {
					return awssdk.ToString(as.NetworkAclId), awssdk.ToString(as.NetworkAclAssociationId)
				}
			}
		}
		return "", ""
	}
	_, original := seen("subnet-a")

	created := time.Now()
	deny, err := c.CreateNetworkAcl(ctx, &ec2.CreateNetworkAclInput{VpcId: awssdk.String("vpc-1")})
	if err != nil {
		t.Fatal(err)
	}
	denyID := deny.NetworkAcl.NetworkAclId
	_, err = c.ReplaceNetworkAclAssociation(ctx, &ec2.ReplaceNetworkAclAssociationInput{AssociationId: &original, NetworkAclId: denyID})
	if !isCode(err, "InvalidNetworkAclID.NotFound") {
		t.Fatalf("ReplaceNetworkAclAssociation onto an ACL created %v ago: %v, want InvalidNetworkAclID.NotFound", time.Since(created), err)
	}
	if _, err := c.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{NetworkAclIds: []string{*denyID}}); !isCode(err, "InvalidNetworkAclID.NotFound") {
		t.Fatalf("DescribeNetworkAcls of an ACL just created: %v, want InvalidNetworkAclID.NotFound", err)
	}
	// Retried, the ACL is found once it has propagated: not before half
	// the bound, not after it.
	var moved *ec2.ReplaceNetworkAclAssociationOutput
	for {
		moved, err = c.ReplaceNetworkAclAssociation(ctx, &ec2.ReplaceNetworkAclAssociationInput{AssociationId: &original, NetworkAclId: denyID})
		if err == nil {
			break
		}
		if !isCode(err, "InvalidNetworkAclID.NotFound") || time.Since(created) > bound+time.Second {
			t.Fatalf("ReplaceNetworkAclAssociation %v after the ACL was created: %v", time.Since(created), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	visible := time.Since(created)
	if visible < bound/2 {
		t.Errorf("the new ACL was usable after %v, want at least %v", visible, bound/2)
	}
	replaced := time.Now()
	plane.mu.Lock()
	cut := plane.isolated["us-east-1"]
	plane.mu.Unlock()
	if !cut {
		t.Fatal("subnet-a is on the deny-all ACL, yet its region's client path is not cut")
	}
	if acl, assoc := seen("subnet-a"); acl != "acl-1" || assoc != original {
		t.Errorf("DescribeNetworkAcls right after the move shows subnet-a on %s (%s), want the stale acl-1 (%s)", acl, assoc, original)
	}
	if _, err := c.ReplaceNetworkAclAssociation(ctx, &ec2.ReplaceNetworkAclAssociationInput{AssociationId: moved.NewAssociationId, NetworkAclId: awssdk.String("acl-1")}); !isCode(err, "InvalidAssociationID.NotFound") {
		t.Errorf("moving back by the association id just returned: %v, want InvalidAssociationID.NotFound until it propagates", err)
	}
	for {
		if acl, assoc := seen("subnet-a"); acl == *denyID && assoc == *moved.NewAssociationId {
			break
		}
		if time.Since(replaced) > bound+time.Second {
			t.Fatalf("DescribeNetworkAcls still does not show the move %v after it", time.Since(replaced))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the new ACL became visible after %v, the move after %v", visible.Round(time.Millisecond), time.Since(replaced).Round(time.Millisecond))
}

// #22 item 5: a queue policy set by SetQueueAttributes is enforced only
// after it propagates, "up to 60 seconds" (SQS API reference,
// SetQueueAttributes): a notification SNS sends the queue meanwhile is
// refused and lost. Before, the policy held the moment it was set.
func TestSQSPolicyTakesUpToAMinute(t *testing.T) {
	plane := &fixedPlane{primary: "us-east-1", regions: map[string]RegionState{"us-east-1": {Available: true}, "us-west-2": {Available: true}}}
	st := testStack()
	topic := "arn:aws:sns:us-west-2:123456789012:alerts"
	st.Topics = []string{topic}
	// A minute at 1/30: the policy is enforced 1 to 2 s after it is set.
	srv, err := Start("127.0.0.1:0", Config{Account: "123456789012", TimeScale: 1.0 / 30, Seed: 22}, st, plane)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	cfg := sdkConfig(t, srv.Endpoint(), "us-west-2")
	q, notify := sqs.NewFromConfig(cfg), sns.NewFromConfig(cfg)
	created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: awssdk.String("proof")})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(QueueSettle) // SQS: a new queue cannot be used for a second
	arn := "arn:aws:sqs:us-west-2:123456789012:proof"
	policy := `{"Statement":[{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"` + arn +
		`","Condition":{"ArnEquals":{"aws:SourceArn":"` + topic + `"}}}]}`
	if _, err := q.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: created.QueueUrl, Attributes: map[string]string{"Policy": policy}}); err != nil {
		t.Fatal(err)
	}
	set := time.Now()
	if _, err := notify.Subscribe(ctx, &sns.SubscribeInput{TopicArn: awssdk.String(topic), Protocol: awssdk.String("sqs"), Endpoint: awssdk.String(arn)}); err != nil {
		t.Fatal(err)
	}
	publish := func(body string) {
		t.Helper()
		if _, err := notify.Publish(ctx, &sns.PublishInput{TopicArn: awssdk.String(topic), Message: awssdk.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	receive := func() int {
		t.Helper()
		got, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: created.QueueUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		return len(got.Messages)
	}
	publish("at once")
	if n := receive(); n != 0 {
		t.Fatalf("a notification sent %v after the queue policy was set arrived (%d): want it refused until the policy propagates", time.Since(set), n)
	}
	if len(srv.RefusedDeliveries()) != 1 {
		t.Fatalf("refused deliveries: %v", srv.RefusedDeliveries())
	}
	time.Sleep(time.Until(set.Add(2*time.Second + 100*time.Millisecond)))
	publish("later")
	if n := receive(); n != 1 {
		t.Fatalf("a notification sent %v after the queue policy was set: %d arrived, want 1", time.Since(set), n)
	}
}
