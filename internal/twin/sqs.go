package twin

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// sqsService holds the queues a drill creates (the alarm path's proof
// queue): create, attributes (QueueArn, Policy), long-polled receive with
// the body's MD5 the SDK checks, delete.
type sqsService struct {
	account string
	mu      sync.Mutex
	queues  map[string]*queue // by URL
	seq     int
}

type queue struct {
	region, name, url, arn string
	attrs                  map[string]string
	msgs                   []sqstypes.Message
	arrived                chan struct{}
}

func (s *sqsService) find(url string) (*queue, *APIError) {
	q, ok := s.queues[url]
	if !ok {
		// awsJson1_0 with the awsQuery-compatible code the SDK reports.
		return nil, &APIError{Status: http.StatusBadRequest, Code: "AWS.SimpleQueueService.NonExistentQueue", Sender: true,
			Message: "The specified queue does not exist."}
	}
	return q, nil
}

func (s *sqsService) byARN(arn string) *queue {
	for _, q := range s.queues {
		if q.arn == arn {
			return q
		}
	}
	return nil
}

func (s *sqsService) handle(c *call) (smithy.Serializable, *APIError) {
	if c.Action == "ReceiveMessage" {
		return s.receive(c)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch c.Action {
	case "CreateQueue":
		name := str(c.Params, "QueueName")
		if name == "" {
			return nil, &APIError{Status: http.StatusBadRequest, Code: "MissingParameter", Sender: true, Message: "QueueName is required"}
		}
		url := fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", c.Region, s.account, name)
		if _, ok := s.queues[url]; !ok {
			s.queues[url] = &queue{region: c.Region, name: name, url: url, arn: fmt.Sprintf("arn:aws:sqs:%s:%s:%s", c.Region, s.account, name),
				attrs: map[string]string{}, arrived: make(chan struct{}, 1)}
		}
		return &sqs.CreateQueueOutput{QueueUrl: awssdk.String(url)}, nil
	case "GetQueueAttributes":
		q, e := s.find(str(c.Params, "QueueUrl"))
		if e != nil {
			return nil, e
		}
		out := map[string]string{"QueueArn": q.arn, "ApproximateNumberOfMessages": fmt.Sprint(len(q.msgs))}
		for k, v := range q.attrs {
			out[k] = v
		}
		return &sqs.GetQueueAttributesOutput{Attributes: out}, nil
	case "SetQueueAttributes":
		q, e := s.find(str(c.Params, "QueueUrl"))
		if e != nil {
			return nil, e
		}
		if m, ok := c.Params["Attributes"].(map[string]any); ok {
			for k, v := range m {
				if sv, ok := v.(string); ok {
					q.attrs[k] = sv
				}
			}
		}
		return &sqs.SetQueueAttributesOutput{}, nil
	case "ListQueues":
		// The region's queues, optionally by name prefix (SQS API reference, ListQueues).
		prefix := str(c.Params, "QueueNamePrefix")
		out := &sqs.ListQueuesOutput{}
		for _, q := range s.queues {
			if q.region == c.Region && strings.HasPrefix(q.name, prefix) {
				out.QueueUrls = append(out.QueueUrls, q.url)
			}
		}
		slices.Sort(out.QueueUrls)
		return out, nil
	case "DeleteQueue":
		q, e := s.find(str(c.Params, "QueueUrl"))
		if e != nil {
			return nil, e
		}
		delete(s.queues, q.url)
		return &sqs.DeleteQueueOutput{}, nil
	}
	return nil, unmodelled(c)
}

// receive long-polls up to WaitTimeSeconds for messages.
func (s *sqsService) receive(c *call) (smithy.Serializable, *APIError) {
	wait, _ := number(c.Params["WaitTimeSeconds"])
	max, ok := number(c.Params["MaxNumberOfMessages"])
	if !ok || max < 1 {
		max = 1
	}
	deadline := time.Now().Add(time.Duration(wait * float64(time.Second)))
	for {
		s.mu.Lock()
		q, e := s.find(str(c.Params, "QueueUrl"))
		if e != nil {
			s.mu.Unlock()
			return nil, e
		}
		if n := min(len(q.msgs), int(max)); n > 0 {
			out := &sqs.ReceiveMessageOutput{Messages: append([]sqstypes.Message(nil), q.msgs[:n]...)}
			q.msgs = q.msgs[n:]
			s.mu.Unlock()
			return out, nil
		}
		arrived := q.arrived
		s.mu.Unlock()
		left := time.Until(deadline)
		if left <= 0 {
			return &sqs.ReceiveMessageOutput{}, nil
		}
		select {
		case <-arrived:
		case <-time.After(left):
		}
	}
}

// deliver puts an SNS notification into a subscribed queue, if the queue's
// policy lets the topic send to it: SNS cannot deliver to a queue whose
// access policy does not allow sqs:SendMessage from the topic (SNS
// Developer Guide, "Fanout to Amazon SQS queues": the queue policy step).
func (s *sqsService) deliver(queueARN, topicARN string, m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.byARN(queueARN)
	if q == nil {
		return
	}
	if p := q.attrs["Policy"]; !strings.Contains(p, "sqs:SendMessage") || !strings.Contains(p, "sns.amazonaws.com") || !strings.Contains(p, topicARN) {
		return
	}
	body, _ := json.Marshal(map[string]string{"Type": "Notification", "MessageId": m.ID, "TopicArn": topicARN, "Subject": m.Subject,
		"Message": m.Message, "Timestamp": m.At.UTC().Format(time.RFC3339Nano), "SignatureVersion": "1"})
	sum := md5.Sum(body)
	s.seq++
	q.msgs = append(q.msgs, sqstypes.Message{MessageId: awssdk.String(fmt.Sprintf("00000000-0000-4000-9000-%012d", s.seq)),
		ReceiptHandle: awssdk.String(fmt.Sprintf("drdrill-twin-receipt-%d", s.seq)), Body: awssdk.String(string(body)),
		MD5OfBody: awssdk.String(hex.EncodeToString(sum[:]))})
	select {
	case q.arrived <- struct{}{}:
	default:
	}
}
