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
	sqsschemas "github.com/aws/aws-sdk-go-v2/service/sqs/schemas"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// sqsAPI is SQS as the twin serves it, over both protocols SQS accepts:
// awsJson1_0 (the Go SDK, botocore since 1.31.x) and awsQuery (older
// clients, e.g. Debian's AWS CLI 2.9), its JSON errors query-compatible:
// the modelled type in __type, the awsQuery code in x-amzn-query-error
// (SQS Developer Guide, "Interpreting Amazon SQS JSON API responses").
var sqsAPI = service{
	name:      "sqs",
	protocols: []protocol{awsJSON10, awsQuery},
	schema:    sqsschemas.AmazonSQS,
	xmlns:     "http://queue.amazonaws.com/doc/2012-11-05/",
	errors:    sqs.TypeRegistry,
	queryInputs: map[string]*smithy.Schema{"CreateQueue": sqsschemas.CreateQueueRequest, "GetQueueAttributes": sqsschemas.GetQueueAttributesRequest,
		"SetQueueAttributes": sqsschemas.SetQueueAttributesRequest, "ListQueues": sqsschemas.ListQueuesRequest,
		"DeleteQueue": sqsschemas.DeleteQueueRequest, "ReceiveMessage": sqsschemas.ReceiveMessageRequest},
	// RequestThrottled is HTTP 403 in the SQS model (@awsQueryError).
	throttling: APIError{Status: http.StatusForbidden, Code: "RequestThrottled", Sender: true, Message: "Rate exceeded"},
	iam:        iamRules{prefix: "sqs", required: sqsRequired},
	start: func(s *Server) (handler, error) {
		return &sqsService{account: s.cfg.Account, queues: map[string]*queue{}, deleted: map[string]time.Time{},
			nameReuse:   s.cfg.scaled(QueueNameReuse),
			propagation: func() time.Duration { return s.draw(s.cfg.Worst.SQSPolicyPropagation) },
			keyAllows: func(key string, c Caller, action string) bool {
				return s.keyAllows(key, c, nil, action, map[string]string{"aws:SourceAccount": s.cfg.Account})
			}}, nil
	},
}

// sqsService holds the queues a drill creates (the alarm path's proof
// queue): create, attributes (QueueArn, Policy), long-polled receive with
// the body's MD5 the SDK checks, delete.
type sqsService struct {
	account string
	// propagation draws how long a policy change takes to be enforced;
	// keyAllows evaluates a KMS key's policy for a service.
	propagation func() time.Duration
	keyAllows   func(key string, c Caller, action string) bool
	// nameReuse is how long a deleted queue's name stays taken (scaled
	// QueueNameReuse); deleted holds when each queue URL was deleted.
	nameReuse time.Duration
	mu        sync.Mutex
	queues    map[string]*queue // by URL
	deleted   map[string]time.Time
	seq       int
	// undelivered are the notifications a queue refused, and why.
	undelivered []string
}

// QueueNameReuse is how long SQS refuses to create a queue with the name
// of one just deleted: "You must wait 60 seconds after deleting a queue
// before you can create another queue with the same name" (SQS API
// reference, QueueDeletedRecently; DeleteQueue: "you must wait at least 60
// seconds before creating a queue with the same name").
const QueueNameReuse = time.Minute

// QueueSettle is how long a new queue cannot be used: "After you create a
// queue, you must wait at least one second after the queue is created to
// be able to use the queue" (SQS API reference, CreateQueue). The page
// names no error; the twin answers NonExistentQueue (the harsher reading:
// a caller that does not wait fails) and does not scale the second.
const QueueSettle = time.Second

type queue struct {
	region, name, url, arn string
	created                time.Time
	attrs                  map[string]string
	// policies are the queue policies set, each enforced from its time:
	// "When you change a queue's attributes, the change can take up to 60
	// seconds for most of the attributes to propagate throughout the
	// Amazon SQS system" (SQS API reference, SetQueueAttributes).
	policies []timedPolicy
	msgs     []sqstypes.Message
	arrived  chan struct{}
}

type timedPolicy struct {
	doc string
	at  time.Time
}

// policy is the queue policy enforced at now ("" for none).
func (q *queue) policy(now time.Time) string {
	doc := ""
	for _, p := range q.policies {
		if !p.at.After(now) {
			doc = p.doc
		}
	}
	return doc
}

func (s *sqsService) find(url string) (*queue, *APIError) {
	q, ok := s.queues[url]
	if !ok || time.Since(q.created) < QueueSettle {
		// awsJson1_0 with the awsQuery-compatible code the SDK reports.
		return nil, &APIError{Status: http.StatusBadRequest, Code: "AWS.SimpleQueueService.NonExistentQueue", Sender: true,
			Message: "The specified queue does not exist."}
	}
	return q, nil
}

// urls are the queues that exist.
func (s *sqsService) urls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for u := range s.queues {
		out = append(out, u)
	}
	return out
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
		if at, ok := s.deleted[url]; ok && time.Since(at) < s.nameReuse {
			return nil, &APIError{Status: http.StatusBadRequest, Code: "AWS.SimpleQueueService.QueueDeletedRecently", Sender: true,
				Message: fmt.Sprintf("You must wait 60 seconds after deleting a queue before you can create another with the same name (%s was deleted %v ago).", name, time.Since(at).Round(time.Millisecond))}
		}
		if _, ok := s.queues[url]; !ok {
			q := &queue{region: c.Region, name: name, url: url, arn: fmt.Sprintf("arn:aws:sqs:%s:%s:%s", c.Region, s.account, name), created: time.Now(),
				attrs: map[string]string{}, arrived: make(chan struct{}, 1)}
			s.set(q, c.Params)
			s.queues[url] = q
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
		s.set(q, c.Params)
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
		s.deleted[q.url] = time.Now()
		return &sqs.DeleteQueueOutput{}, nil
	}
	return nil, unmodelled(c)
}

// set sets the queue attributes a CreateQueue or SetQueueAttributes call
// gives; a policy is enforced only after its propagation (reading it back
// shows it at once). Called with s.mu held.
func (s *sqsService) set(q *queue, params map[string]any) {
	m, _ := params["Attributes"].(map[string]any)
	for k, v := range m {
		if sv, ok := v.(string); ok {
			q.attrs[k] = sv
			if k == string(sqstypes.QueueAttributeNamePolicy) {
				q.policies = append(q.policies, timedPolicy{doc: sv, at: time.Now().Add(s.propagation())})
			}
		}
	}
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

// deliver puts an SNS notification into a subscribed queue, if the queue
// takes it: its policy, as enforced now, must let the topic send to it
// (SNS Developer Guide, "Fanout to Amazon SQS queues": the queue policy
// step), and a queue encrypted with a KMS key needs the key's policy to
// let SNS use it (SQS Developer Guide, "Configure KMS permissions for AWS
// services"; the AWS managed alias/aws/sqs key's policy admits no other
// service). A refused notification is lost: SNS does not retry a client
// error.
func (s *sqsService) deliver(queueARN, topicARN string, m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.byARN(queueARN)
	if q == nil {
		return
	}
	refuse := func(why string) {
		s.undelivered = append(s.undelivered, fmt.Sprintf("%s → %s: %s", topicARN, queueARN, why))
	}
	doc := q.policy(time.Now())
	p, err := ParsePolicies([]string{doc})
	if doc == "" || err != nil || !p.ResourceAllows(Caller{Service: "sns.amazonaws.com"}, nil, "sqs:SendMessage", q.arn,
		map[string]string{"aws:SourceArn": topicARN, "aws:SourceAccount": s.account}) {
		refuse("the queue policy in force does not let the topic sqs:SendMessage")
		return
	}
	if key := q.attrs[string(sqstypes.QueueAttributeNameKmsMasterKeyId)]; key != "" {
		for _, action := range []string{"kms:GenerateDataKey", "kms:Decrypt"} {
			if strings.HasPrefix(key, "alias/aws/") || s.keyAllows == nil || !s.keyAllows(key, Caller{Service: "sns.amazonaws.com"}, action) {
				refuse("the queue's key " + key + " does not let sns.amazonaws.com " + action)
				return
			}
		}
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

// sqsRequired: every queue call is on the queue's ARN (Service
// Authorization Reference, Amazon SQS: queue), CreateQueue with tags also
// needs sqs:TagQueue; ListQueues takes no resource.
func sqsRequired(s *Server, c *call) []authorization {
	queueARN := func(name string) string { return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", c.Region, s.cfg.Account, name) }
	switch c.Action {
	case "ListQueues":
		return nil
	case "CreateQueue":
		arn := queueARN(str(c.Params, "QueueName"))
		need := []authorization{{action: "sqs:CreateQueue", resource: arn}}
		if tags, _ := c.Params["Tags"].(map[string]any); len(tags) > 0 {
			need = append(need, authorization{action: "sqs:TagQueue", resource: arn})
		}
		return need
	}
	url := str(c.Params, "QueueUrl")
	return []authorization{{action: "sqs:" + c.Action, resource: queueARN(url[strings.LastIndex(url, "/")+1:])}}
}
