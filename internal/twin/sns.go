package twin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"
)

// Subscription delivers a topic's messages to a Lambda function
// (aws_sns_topic_subscription with protocol "lambda").
type Subscription struct {
	TopicARN, Function string
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
	invoke  func(ctx context.Context, function, source string, payload []byte)
	mu      sync.Mutex
	seq     int
	log     []Message
}

func (s *snsService) handle(c *call) (smithy.Serializable, *APIError) {
	if c.Action != "Publish" {
		return nil, unmodelled(c)
	}
	topic := c.Form.Get("TopicArn")
	if !s.topics[topic] {
		return nil, &APIError{Status: http.StatusNotFound, Code: "NotFound", Sender: true, Message: "Topic does not exist"}
	}
	s.mu.Lock()
	s.seq++
	m := Message{TopicARN: topic, Subject: c.Form.Get("Subject"), Message: c.Form.Get("Message"),
		ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", s.seq), At: time.Now()}
	s.log = append(s.log, m)
	subs := append([]Subscription(nil), s.subs...)
	s.mu.Unlock()
	s.deliver(m, subs)
	return &sns.PublishOutput{MessageId: awssdk.String(m.ID)}, nil
}

// publish is a message from inside AWS (a CloudWatch alarm action).
func (s *snsService) publish(topic, subject, message string) {
	if !s.topics[topic] {
		return
	}
	s.mu.Lock()
	s.seq++
	m := Message{TopicARN: topic, Subject: subject, Message: message, ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", s.seq), At: time.Now()}
	s.log = append(s.log, m)
	subs := append([]Subscription(nil), s.subs...)
	s.mu.Unlock()
	s.deliver(m, subs)
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
		go s.invoke(context.Background(), sub.Function, "sns", event)
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
