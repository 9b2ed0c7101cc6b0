package aws

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQSAPI is the temporary queue that proves an alarm notification arrives.
type SQSAPI interface {
	CreateQueue(context.Context, *sqs.CreateQueueInput, ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	SetQueueAttributes(context.Context, *sqs.SetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error)
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteQueue(context.Context, *sqs.DeleteQueueInput, ...func(*sqs.Options)) (*sqs.DeleteQueueOutput, error)
}

// SubscriptionsAPI subscribes the queue to the alarm's topic.
type SubscriptionsAPI interface {
	Subscribe(context.Context, *sns.SubscribeInput, ...func(*sns.Options)) (*sns.SubscribeOutput, error)
	Unsubscribe(context.Context, *sns.UnsubscribeInput, ...func(*sns.Options)) (*sns.UnsubscribeOutput, error)
}

// AlarmSetterAPI forces an alarm's state.
type AlarmSetterAPI interface {
	SetAlarmState(context.Context, *cloudwatch.SetAlarmStateInput, ...func(*cloudwatch.Options)) (*cloudwatch.SetAlarmStateOutput, error)
}

// AlarmProof records what the alarm-path fault created, for its rollback.
type AlarmProof struct {
	Region       string `json:"region"`
	Alarm        string `json:"alarm"`
	Topic        string `json:"topic"`
	QueueName    string `json:"queue_name"`
	QueueURL     string `json:"queue_url,omitempty"`
	QueueARN     string `json:"queue_arn,omitempty"`
	Subscription string `json:"subscription,omitempty"`
	Delivered    bool   `json:"delivered"`
}

// ResolveAlarmPath checks that the lag alarm exists in the secondary region
// and notifies the secondary topic (read-only).
func (s *Stack) ResolveAlarmPath(ctx context.Context) (AlarmProof, error) {
	alarm, topic := s.Out["ReplicationLagAlarmName"], s.Out["SecondarySNSTopicArn"]
	out, err := s.Secondary.Alarms.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{alarm}})
	if err != nil {
		return AlarmProof{}, fmt.Errorf("DescribeAlarms %s: %w", alarm, err)
	}
	if len(out.MetricAlarms) == 0 {
		return AlarmProof{}, fmt.Errorf("alarm %s not found in %s (FIS emptyTargetResolutionMode=fail)", alarm, s.Secondary.Region)
	}
	notifies := false
	for _, a := range out.MetricAlarms[0].AlarmActions {
		notifies = notifies || a == topic
	}
	if !notifies {
		return AlarmProof{}, fmt.Errorf("alarm %s does not notify %s: the alarm path is broken before any fault", alarm, topic)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return AlarmProof{Region: s.Secondary.Region, Alarm: alarm, Topic: topic, QueueName: "drdrill-alarm-proof-" + hex.EncodeToString(b)}, nil
}

// queueSettle is how long a new queue must not be used (SQS API
// reference, CreateQueue: "at least one second").
const queueSettle = time.Second

// InjectAlarmPath subscribes a temporary queue to the alarm's topic, forces
// the alarm to ALARM, and waits until the notification arrives in the queue.
// Every resource it creates is recorded in p as soon as it exists.
//
// progress, if not nil, is called after each resource exists (the queue,
// then the subscription), so a caller can make it durable first.
func (s *Stack) InjectAlarmPath(ctx context.Context, p *AlarmProof, wait time.Duration, progress func(AlarmProof) error) error {
	r := s.Secondary
	record := func(what string) error {
		if progress == nil {
			return nil
		}
		if err := progress(*p); err != nil {
			return fmt.Errorf("recording %s before going on: %w", what, err)
		}
		return nil
	}
	q, err := r.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &p.QueueName, Tags: map[string]string{"managedByDrdrill": "true"}})
	if err != nil {
		return fmt.Errorf("CreateQueue: %w", err)
	}
	p.QueueURL = awssdk.ToString(q.QueueUrl)
	if err := record("the queue " + p.QueueURL); err != nil {
		return err
	}
	// "After you create a queue, you must wait at least one second after
	// the queue is created to be able to use the queue" (SQS API
	// reference, CreateQueue). Not cut short by a stop: the rollback's
	// DeleteQueue is a use too, and a queue that answered it as missing
	// would be left behind.
	time.Sleep(queueSettle)
	attrs, err := r.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return fmt.Errorf("GetQueueAttributes: %w", err)
	}
	p.QueueARN = attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	policy, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []map[string]any{{
		"Effect": "Allow", "Principal": map[string]string{"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
		"Resource": p.QueueARN, "Condition": map[string]any{"ArnEquals": map[string]string{"aws:SourceArn": p.Topic}}}}})
	if _, err := r.SQS.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: q.QueueUrl, Attributes: map[string]string{string(sqstypes.QueueAttributeNamePolicy): string(policy)}}); err != nil {
		return fmt.Errorf("SetQueueAttributes: %w", err)
	}
	sub, err := r.Subs.Subscribe(ctx, &sns.SubscribeInput{TopicArn: &p.Topic, Protocol: awssdk.String("sqs"), Endpoint: &p.QueueARN, ReturnSubscriptionArn: true})
	if err != nil {
		return fmt.Errorf("subscribing the queue to %s: %w", p.Topic, err)
	}
	p.Subscription = awssdk.ToString(sub.SubscriptionArn)
	if err := record("the subscription " + p.Subscription); err != nil {
		return err
	}
	force := func(state cwtypes.StateValue) error {
		if _, err := r.AlarmSetter.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: &p.Alarm, StateValue: state,
			StateReason: awssdk.String("drdrill alarm-path drill: proving the notification reaches " + p.Topic)}); err != nil {
			return fmt.Errorf("SetAlarmState %s: %w", state, err)
		}
		return nil
	}
	if err := force(cwtypes.StateValueAlarm); err != nil {
		return err
	}
	// The queue policy just set can take up to 60 seconds to be enforced
	// (SQS API reference, SetQueueAttributes), and SNS does not retry a
	// delivery the queue refused: a notification sent before then is
	// lost. So the alarm is forced again (OK, then ALARM: a new
	// notification) at growing intervals until one arrives or wait ends.
	deadline := time.Now().Add(wait)
	forced, every := time.Now(), 2*s.poll()
	longPoll := int32(min(max(s.poll()/time.Second, 1), 20)) // ReceiveMessage's WaitTimeSeconds: 1 to 20
	for time.Now().Before(deadline) {
		msgs, err := r.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: longPoll, MaxNumberOfMessages: 10})
		if err != nil {
			return fmt.Errorf("receiving from the proof queue: %w", err)
		}
		for _, m := range msgs.Messages {
			if alarmNotification(awssdk.ToString(m.Body), p.Alarm) {
				p.Delivered = true
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(forced) >= every && time.Now().Add(every).Before(deadline) {
			if err := force(cwtypes.StateValueOk); err != nil {
				return err
			}
			if err := force(cwtypes.StateValueAlarm); err != nil {
				return err
			}
			forced, every = time.Now(), 2*every
		}
	}
	return fmt.Errorf("no notification of %s reached %s within %v: the alarm path is broken", p.Alarm, p.Topic, wait)
}

// alarmNotification: body is SNS's envelope of CloudWatch's notification
// that alarm entered ALARM.
func alarmNotification(body, alarm string) bool {
	var env struct{ Message string }
	var n struct{ AlarmName, NewStateValue string }
	if json.Unmarshal([]byte(body), &env) != nil || json.Unmarshal([]byte(env.Message), &n) != nil {
		return false
	}
	return n.AlarmName == alarm && n.NewStateValue == string(cwtypes.StateValueAlarm)
}

// RollbackAlarmPath sets the alarm back to OK (it re-evaluates on its own
// next period) and removes the subscription and the queue. Idempotent.
func (s *Stack) RollbackAlarmPath(ctx context.Context, p AlarmProof) error {
	r := s.Secondary
	var errs []string
	if _, err := r.AlarmSetter.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: &p.Alarm, StateValue: cwtypes.StateValueOk,
		StateReason: awssdk.String("drdrill alarm-path drill rolled back")}); err != nil {
		errs = append(errs, "SetAlarmState OK: "+err.Error())
	}
	if p.Subscription != "" {
		if _, err := r.Subs.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: &p.Subscription}); err != nil && !strings.Contains(err.Error(), "NotFound") {
			errs = append(errs, "Unsubscribe: "+err.Error())
		}
	}
	if p.QueueURL != "" {
		if _, err := r.SQS.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: &p.QueueURL}); err != nil && !strings.Contains(err.Error(), "NonExistentQueue") {
			errs = append(errs, "DeleteQueue: "+err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("alarm-path rollback: %s", strings.Join(errs, "; "))
	}
	return nil
}
