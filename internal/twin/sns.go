package twin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snsschemas "github.com/aws/aws-sdk-go-v2/service/sns/schemas"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
)

// snsAPI is SNS as the twin serves it (awsQuery): Publish, Subscribe,
// Unsubscribe, ListSubscriptionsByTopic.
var snsAPI = service{
	name:       "sns",
	protocols:  []protocol{awsQuery},
	schema:     snsschemas.AmazonSimpleNotificationService,
	errors:     sns.TypeRegistry,
	throttling: APIError{Status: http.StatusBadRequest, Code: "Throttling", Sender: true, Message: "Rate exceeded"},
	iam: iamRules{prefix: "sns", required: snsRequired,
		denied:    APIError{Status: http.StatusForbidden, Code: "AuthorizationError", Sender: true},
		kmsDenied: APIError{Status: http.StatusBadRequest, Code: "KMSAccessDenied", Sender: true}},
	start: func(s *Server) (handler, error) {
		topics := map[string]bool{}
		for _, t := range s.stack.Topics {
			topics[t] = true
		}
		return &snsService{account: s.cfg.Account, topics: topics, subs: s.stack.Subscriptions,
			sqs: func() *sqsService { return serviceOf[*sqsService](s) },
			// SNS invokes a subscribed function asynchronously ("Using
			// Lambda with Amazon SNS").
			invoke: func(fn, source string, payload []byte) {
				if l := serviceOf[*lambdaService](s); l != nil {
					l.InvokeAsync(fn, source, payload)
				}
			},
			functionARN: func(name string) string {
				if l := serviceOf[*lambdaService](s); l != nil {
					return l.functionARN(name)
				}
				return ""
			}}, nil
	},
}

// snsRequired: Publish to a KMS-encrypted topic also needs
// kms:GenerateDataKey* and kms:Decrypt on its key via SNS (SNS Developer
// Guide, "Data encryption").
//
// Subscribe and ListSubscriptionsByTopic are on the topic; Unsubscribe
// names a subscription, which is no IAM resource: "*".
func snsRequired(s *Server, c *call) []authorization {
	switch c.Action {
	case "Subscribe", "ListSubscriptionsByTopic":
		return []authorization{{action: "sns:" + c.Action, resource: c.Form.Get("TopicArn")}}
	case "Unsubscribe":
		return []authorization{{action: "sns:Unsubscribe", resource: "*"}}
	case "Publish":
	default:
		return nil
	}
	topic := c.Form.Get("TopicArn")
	auth := []authorization{{action: "sns:Publish", resource: topic}}
	if key := s.stack.TopicKeys[topic]; key != "" {
		via := map[string]string{"kms:ViaService": "sns." + c.Region + ".amazonaws.com"}
		auth = append(auth, authorization{action: "kms:GenerateDataKey", resource: key, keys: via, kms: true},
			authorization{action: "kms:Decrypt", resource: key, keys: via, kms: true})
	}
	return auth
}

// Subscription delivers a topic's messages to a Lambda function
// (aws_sns_topic_subscription with protocol "lambda").
type Subscription struct {
	TopicARN, Function string
}

// queueSubscription is a Subscribe call's sqs subscription.
type queueSubscription struct {
	arn, topic, queueARN string
}

// Message is one message published to a topic.
type Message struct {
	TopicARN, Subject, Message, ID string
	At                             time.Time
}

// snsService answers Publish and delivers to the topic's Lambda
// subscribers asynchronously, with the event SNS sends a function (Lambda
// Developer Guide, "Using Lambda with Amazon SNS").
type snsService struct {
	account string
	topics  map[string]bool
	subs    []Subscription
	invoke  func(function, source string, payload []byte)
	// functionARN names a subscribed function by its ARN.
	functionARN func(name string) string
	sqs         func() *sqsService
	qsubs       []queueSubscription
	mu          sync.Mutex
	seq         int
	log         []Message
}

func (s *snsService) handle(c *call) (smithy.Serializable, *APIError) {
	switch c.Action {
	case "Publish":
		topic := c.Form.Get("TopicArn")
		if !s.topics[topic] {
			return nil, &APIError{Status: http.StatusNotFound, Code: "NotFound", Sender: true, Message: "Topic does not exist"}
		}
		m := s.publish(topic, c.Form.Get("Subject"), c.Form.Get("Message"))
		return &sns.PublishOutput{MessageId: awssdk.String(m.ID)}, nil
	case "Subscribe":
		topic, protocol, endpoint := c.Form.Get("TopicArn"), c.Form.Get("Protocol"), c.Form.Get("Endpoint")
		if !s.topics[topic] {
			return nil, &APIError{Status: http.StatusNotFound, Code: "NotFound", Sender: true, Message: "Topic does not exist"}
		}
		if protocol != "sqs" {
			return nil, &APIError{Status: http.StatusBadRequest, Code: "InvalidParameter", Sender: true,
				Message: fmt.Sprintf("the drdrill AWS twin models sqs subscriptions only, not %q", protocol)}
		}
		s.mu.Lock()
		s.seq++
		sub := queueSubscription{arn: fmt.Sprintf("%s:0000%08d-0000-4000-8000-000000000000", topic, s.seq), topic: topic, queueARN: endpoint}
		s.qsubs = append(s.qsubs, sub)
		s.mu.Unlock()
		return &sns.SubscribeOutput{SubscriptionArn: awssdk.String(sub.arn)}, nil
	case "ListSubscriptionsByTopic":
		// The topic's subscriptions: the stack's Lambda ones and the sqs
		// ones made since (SNS API reference, ListSubscriptionsByTopic).
		topic := c.Form.Get("TopicArn")
		if !s.topics[topic] {
			return nil, &APIError{Status: http.StatusNotFound, Code: "NotFound", Sender: true, Message: "Topic does not exist"}
		}
		out := &sns.ListSubscriptionsByTopicOutput{}
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, sub := range s.subs {
			if sub.TopicARN == topic {
				out.Subscriptions = append(out.Subscriptions, snstypes.Subscription{TopicArn: awssdk.String(topic), Protocol: awssdk.String("lambda"),
					Endpoint: awssdk.String(s.functionARN(sub.Function)), Owner: awssdk.String(s.account),
					SubscriptionArn: awssdk.String(fmt.Sprintf("%s:5a0c0000-0000-4000-8000-%012d", topic, i))})
			}
		}
		for _, q := range s.qsubs {
			if q.topic == topic {
				out.Subscriptions = append(out.Subscriptions, snstypes.Subscription{TopicArn: awssdk.String(topic), Protocol: awssdk.String("sqs"),
					Endpoint: awssdk.String(q.queueARN), Owner: awssdk.String(s.account), SubscriptionArn: awssdk.String(q.arn)})
			}
		}
		return out, nil
	case "Unsubscribe":
		arn := c.Form.Get("SubscriptionArn")
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, q := range s.qsubs {
			if q.arn == arn {
				s.qsubs = append(s.qsubs[:i], s.qsubs[i+1:]...)
				return &sns.UnsubscribeOutput{}, nil
			}
		}
		return nil, &APIError{Status: http.StatusNotFound, Code: "NotFound", Sender: true, Message: "Subscription does not exist"}
	}
	return nil, unmodelled(c)
}

// QueueSubscriptions are the sqs subscriptions still in place.
func (s *snsService) QueueSubscriptions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, q := range s.qsubs {
		out = append(out, q.arn)
	}
	return out
}

// publish records a message (a Publish call, or a CloudWatch alarm action
// from inside AWS) and delivers it to the topic's subscribers.
func (s *snsService) publish(topic, subject, message string) Message {
	if !s.topics[topic] {
		return Message{}
	}
	s.mu.Lock()
	s.seq++
	m := Message{TopicARN: topic, Subject: subject, Message: message, ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", s.seq), At: time.Now()}
	s.log = append(s.log, m)
	subs := append([]Subscription(nil), s.subs...)
	qsubs := append([]queueSubscription(nil), s.qsubs...)
	s.mu.Unlock()
	for _, q := range qsubs {
		if q.topic != topic {
			continue
		}
		if sqs := s.sqs(); sqs != nil {
			sqs.deliver(q.queueARN, topic, m)
		}
	}
	s.deliver(m, subs)
	return m
}

func (s *snsService) deliver(m Message, subs []Subscription) {
	for _, sub := range subs {
		if sub.TopicARN != m.TopicARN || s.invoke == nil {
			continue
		}
		event, _ := json.Marshal(map[string]any{"Records": []any{map[string]any{
			"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": m.TopicARN + ":drdrill-twin",
			"Sns": map[string]any{"Type": "Notification", "MessageId": m.ID, "TopicArn": m.TopicARN, "Subject": m.Subject,
				"Message": m.Message, "Timestamp": m.At.UTC().Format(time.RFC3339Nano)}}}})
		s.invoke(sub.Function, "sns", event)
	}
}

// Messages returns what was published to a topic.
func (s *snsService) Messages(topic string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.log {
		if topic == "" || m.TopicARN == topic {
			out = append(out, m)
		}
	}
	return out
}
