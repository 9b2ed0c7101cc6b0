package twin

import (
	"context"
	"errors"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqsschemas "github.com/aws/aws-sdk-go-v2/service/sqs/schemas"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
)

// A queue's name cannot be reused for a minute after the queue is
// deleted: "You must wait 60 seconds after deleting a queue before you can
// create another queue with the same name" (SQS API reference,
// QueueDeletedRecently; DeleteQueue). A harness that named its proof queue
// the same on every run would fail a second run within the minute on AWS;
// before, the twin created it again at once.
func TestAQueueNameIsRefusedForAMinuteAfterItsDeletion(t *testing.T) {
	plane := &fixedPlane{primary: "us-east-1", regions: map[string]RegionState{"us-east-1": {Available: true}, "us-west-2": {Available: true}}}
	// A minute at 1/30: the name is free again 2 s after the deletion.
	srv, err := Start("127.0.0.1:0", Config{Account: "123456789012", TimeScale: 1.0 / 30}, testStack(), plane)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	q := sqs.NewFromConfig(sdkConfig(t, srv.Endpoint(), "us-west-2"))
	name := awssdk.String("proof")
	created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: name})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(QueueSettle) // a new queue cannot be used, deleted included, for a second
	if _, err := q.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: created.QueueUrl}); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	_, err = q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: name})
	var recently *sqstypes.QueueDeletedRecently
	if !errors.As(err, &recently) {
		t.Fatalf("CreateQueue of a name deleted %v ago: %v, want the SDK's QueueDeletedRecently", time.Since(deleted).Round(time.Millisecond), err)
	}
	// The same answer to an awsQuery client (AWS.SimpleQueueService.QueueDeletedRecently).
	query := sqs.NewFromConfig(sdkConfig(t, srv.Endpoint(), "us-west-2"), func(o *sqs.Options) { o.Protocol = awsquery.New(sqsschemas.AmazonSQS) })
	if _, err := query.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: name}); !errors.As(err, &recently) {
		t.Fatalf("CreateQueue (awsQuery) of a name deleted %v ago: %v, want the SDK's QueueDeletedRecently", time.Since(deleted).Round(time.Millisecond), err)
	}
	// Another name is not affected, nor another region's queue of that name.
	if _, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: awssdk.String("other")}); err != nil {
		t.Fatalf("CreateQueue of another name: %v", err)
	}
	east := sqs.NewFromConfig(sdkConfig(t, srv.Endpoint(), "us-east-1"))
	if _, err := east.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: name}); err != nil {
		t.Fatalf("CreateQueue of that name in another region: %v", err)
	}
	time.Sleep(time.Until(deleted.Add(2*time.Second + 100*time.Millisecond)))
	if _, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: name}); err != nil {
		t.Fatalf("CreateQueue of the name a (scaled) minute after its deletion: %v", err)
	}
}

// A queue cannot be used for a second after it is created: "After you
// create a queue, you must wait at least one second after the queue is
// created to be able to use the queue" (SQS API reference, CreateQueue).
// The twin answers a use within that second as a queue that does not
// exist, to every protocol; before, the queue answered at once, so a
// harness that used it at once passed here and could fail on AWS.
func TestANewQueueCannotBeUsedForASecond(t *testing.T) {
	plane := &fixedPlane{primary: "us-east-1", regions: map[string]RegionState{"us-east-1": {Available: true}, "us-west-2": {Available: true}}}
	srv, err := Start("127.0.0.1:0", Config{Account: "123456789012", TimeScale: 1.0 / 30}, testStack(), plane)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	q := sqs.NewFromConfig(sdkConfig(t, srv.Endpoint(), "us-west-2"))
	query := sqs.NewFromConfig(sdkConfig(t, srv.Endpoint(), "us-west-2"), func(o *sqs.Options) { o.Protocol = awsquery.New(sqsschemas.AmazonSQS) })
	created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: awssdk.String("fresh")})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	var missing *sqstypes.QueueDoesNotExist
	for name, c := range map[string]*sqs.Client{"awsJson1_0": q, "awsQuery": query} {
		_, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: created.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if !errors.As(err, &missing) && time.Since(at) < QueueSettle {
			t.Fatalf("%s: GetQueueAttributes %v after CreateQueue: %v, want QueueDoesNotExist until a second has passed", name, time.Since(at).Round(time.Millisecond), err)
		}
	}
	time.Sleep(time.Until(at.Add(QueueSettle)))
	if _, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: created.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}}); err != nil {
		t.Fatalf("GetQueueAttributes a second after CreateQueue: %v", err)
	}
}
