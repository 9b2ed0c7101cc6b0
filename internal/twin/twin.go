// Package twin is drdrill's AWS twin: an AWS control plane on loopback that
// answers the unmodified AWS SDK over the real wire protocols, with the
// embedded lab as its data plane. It models the RDS global-cluster
// operations (awsQuery) with Aurora's FailoverState over time and the
// lab's real promotion underneath, STS GetCallerIdentity, Secrets Manager
// GetSecretValue (awsJson1_1), CloudWatch metrics and metric alarms
// (rpcv2Cbor) with the global database's lag published from the lab's,
// Route 53 health checks that follow their alarms (restXml), EC2 network
// ACLs (ec2Query), Lambda (restJson1, the real handlers behind the Runtime
// API), SNS (awsQuery) and SQS (awsJson1_0).
// Answers are written by the SDK's own output types serializing
// themselves, through the SDK's own encoders where they are public, so
// every element name comes from the SDK's schemas.
package twin

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/drdrill/drdrill/internal/link"
)

// Config sets the twin's account and its clock.
type Config struct {
	// Account is the twin's AWS account id (default 000000000000).
	Account string
	// TimeScale multiplies every AWS duration (default 1: AWS's own;
	// 0.01 makes a one-minute period take 600 ms).
	TimeScale float64
	// LogDir receives each Lambda function's log (what CloudWatch Logs
	// would hold); default: a temporary directory.
	LogDir string
}

func (c Config) scaled(d time.Duration) time.Duration {
	if c.TimeScale <= 0 {
		return d
	}
	return time.Duration(float64(d) * c.TimeScale)
}

// Stack is the AWS side of the deployment the twin plays: what infra/aws
// creates and the twin answers for.
type Stack struct {
	Global GlobalCluster
	// Tags are on every resource (infra/aws: the providers' default_tags).
	Tags   map[string]string
	Secret Secret
	Alarms []MetricAlarm
	// Functions run on the twin behind the Lambda Runtime API; Schedules,
	// AlarmRules and Subscriptions invoke them as EventBridge and SNS do.
	Functions     []Function
	Schedules     []Schedule
	AlarmRules    []AlarmRule
	Topics        []string
	Subscriptions []Subscription
	// Networks are the regions' database networks (EC2 network ACLs).
	Networks []Network
	// HealthChecks are the Route 53 health checks.
	HealthChecks []HealthCheck
	// TopicKeys and SecretKeys are the KMS keys of the topics (by ARN) and
	// of the secret (by region): what a function's role needs on top.
	TopicKeys, SecretKeys map[string]string
}

// Schedule invokes a function every Every (an EventBridge rate rule).
type Schedule struct {
	Function, Region, Rule string
	Every                  time.Duration
}

// AlarmRule invokes a function when an alarm of the rule's region whose
// name starts with NamePrefix enters one of States (an EventBridge rule on
// "CloudWatch Alarm State Change").
type AlarmRule struct {
	Function, Region, Rule, NamePrefix string
	States                             []string
}

// Server is a running twin endpoint.
type Server struct {
	cfg     Config
	stack   Stack
	rds     *rdsService
	cw      *cloudWatch
	secrets *secretsManager
	lambda  *lambdaService
	sns     *snsService
	ec2     *ec2Service
	sqs     *sqsService
	route53 *route53Service
	busy    sync.Map // function name → an invocation from a schedule is running
	// throttles: how many more calls of "service.Action" to throttle.
	throttleMu sync.Mutex
	throttles  map[string]int
	ownLogs    bool // LogDir is the twin's own temporary directory
	data       DataPlane
	peering    []*link.Link // the VPC peering, as the functions' cross-region paths cross it
	http       *http.Server
	ln         net.Listener
	seq        atomic.Int64
	stop       chan struct{}
	loops      sync.WaitGroup
}

// Start serves the twin on addr (e.g. 127.0.0.1:0) for stack over data.
func Start(addr string, cfg Config, stack Stack, data DataPlane) (*Server, error) {
	if cfg.Account == "" {
		cfg.Account = "000000000000"
	}
	gc := stack.Global
	if gc.writer == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		w, err := data.Primary(ctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("AWS twin: which region holds the writer: %w", err)
		}
		gc.writer = w
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("AWS twin: listen on %s: %w (is the port in use? pick another or 127.0.0.1:0)", addr, err)
	}
	ownLogs := cfg.LogDir == ""
	if ownLogs {
		if cfg.LogDir, err = os.MkdirTemp("", "drdrill-twin-logs-"); err != nil {
			ln.Close()
			return nil, err
		}
	}
	s := &Server{cfg: cfg, stack: stack, ln: ln, data: data, stop: make(chan struct{}), ownLogs: ownLogs,
		rds:     &rdsService{cfg: cfg, data: data, gc: &gc, tags: stack.Tags},
		cw:      newCloudWatch(cfg, stack.Alarms),
		secrets: &secretsManager{account: cfg.Account, secret: stack.Secret, created: time.Now()}}
	fns, err := s.functions(stack.Functions)
	if err != nil {
		s.closePeering()
		ln.Close()
		return nil, err
	}
	s.lambda = newLambdaService(cfg, s.Endpoint, cfg.LogDir, fns)
	s.ec2 = newEC2(cfg.Account, stack.Networks, data)
	topics := map[string]bool{}
	for _, t := range stack.Topics {
		topics[t] = true
	}
	s.sqs = &sqsService{account: cfg.Account, queues: map[string]*queue{}}
	s.sns = &snsService{account: cfg.Account, topics: topics, subs: stack.Subscriptions, sqs: s.sqs,
		invoke: func(ctx context.Context, fn, source string, payload []byte) {
			_, _ = s.lambda.Invoke(ctx, fn, source, payload)
		},
		functionARN: s.lambda.functionARN}
	s.route53 = &route53Service{checks: stack.HealthChecks, alarm: s.cw.state}
	s.cw.notify = func(topic, subject, message string) { s.sns.publish(topic, subject, message) }
	s.cw.onChange = s.alarmChanged
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(ln) }()
	s.loops.Add(1)
	go s.publishLoop()
	return s, nil
}

// Endpoint is the URL to give the SDK (AWS_ENDPOINT_URL).
func (s *Server) Endpoint() string { return "http://" + s.ln.Addr().String() }

// Close stops serving and waits for promotions in progress to finish, so
// that no lab operation outlives the twin.
func (s *Server) Close() error {
	close(s.stop)
	err := s.http.Close()
	s.loops.Wait()
	s.rds.async.Wait()
	s.lambda.close()
	s.closePeering()
	if s.ownLogs {
		_ = os.RemoveAll(s.cfg.LogDir)
	}
	return err
}

// functions are the stack's functions as the twin runs them: their
// cross-region endpoints through the twin's peering links, and, when time
// is scaled, their check period set to their scaled schedule and their
// probe timeout to at most half of it, so that a check fits its period as
// a 2 s probe fits a minute on AWS.
func (s *Server) functions(in []Function) ([]Function, error) {
	links := map[string]*link.Link{} // by upstream
	var out []Function
	for _, f := range in {
		env := maps.Clone(f.Env)
		inside := s.inDatabaseSubnet(f)
		for k, cross := range f.Peered {
			if !cross && inside && env[k] != "" {
				// A function in its region's database subnets reaches the
				// database there without crossing any network ACL.
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				addr, err := s.data.InsideSubnet(ctx, f.Region)
				cancel()
				if err != nil {
					return nil, fmt.Errorf("AWS twin: %s's path inside the database subnets of %s: %w", f.Name, f.Region, err)
				}
				env[k] = addr
				continue
			}
			if !cross || env[k] == "" {
				continue
			}
			l, ok := links[env[k]]
			if !ok {
				var err error
				if l, err = link.Listen("peering", "127.0.0.1:0", env[k]); err != nil {
					return nil, fmt.Errorf("AWS twin: the peering link to %s: %w", env[k], err)
				}
				links[env[k]] = l
				s.peering = append(s.peering, l)
			}
			env[k] = l.Addr()
		}
		if sc := s.cfg.TimeScale; sc > 0 && sc != 1 {
			period := s.cfg.scaled(RDSLagPeriod)
			if _, set := env["DRDRILL_CHECK_PERIOD"]; !set {
				env["DRDRILL_CHECK_PERIOD"] = period.String()
			}
			if _, set := env["DRDRILL_PROBE_TIMEOUT"]; !set {
				env["DRDRILL_PROBE_TIMEOUT"] = min(2*time.Second, period/2).String()
			}
		}
		f.Env = env
		out = append(out, f)
	}
	return out, nil
}

// inDatabaseSubnet: f's vpc_config places it in one of its region's
// database subnets.
func (s *Server) inDatabaseSubnet(f Function) bool {
	for _, n := range s.stack.Networks {
		if n.Region != f.Region {
			continue
		}
		for _, sn := range f.Subnets {
			if slices.Contains(n.Subnets, sn) {
				return true
			}
		}
	}
	return false
}

// Throttle makes the next n calls of service's action (e.g. "rds",
// "DescribeGlobalClusters") fail as AWS throttles them, with each
// service's own throttling error (the AWS SDKs retry these).
func (s *Server) Throttle(service, action string, n int) {
	s.throttleMu.Lock()
	defer s.throttleMu.Unlock()
	if s.throttles == nil {
		s.throttles = map[string]int{}
	}
	s.throttles[service+"."+action] = n
}

// throttled is the throttling error for a call, if it is to be throttled:
// the code each service documents for a request rate it refuses.
func (s *Server) throttled(service, action string) *APIError {
	s.throttleMu.Lock()
	defer s.throttleMu.Unlock()
	k := service + "." + action
	if s.throttles[k] <= 0 {
		return nil
	}
	s.throttles[k]--
	msg := "Rate exceeded"
	switch service {
	case "secretsmanager":
		return &APIError{Status: http.StatusBadRequest, Code: "ThrottlingException", Sender: true, Message: msg}
	case "lambda":
		return &APIError{Status: http.StatusTooManyRequests, Code: "TooManyRequestsException", Sender: true, Message: msg}
	case "sqs":
		return &APIError{Status: http.StatusBadRequest, Code: "RequestThrottled", Sender: true, Message: msg}
	case "ec2":
		return &APIError{Status: http.StatusServiceUnavailable, Code: "RequestLimitExceeded", Message: "Request limit exceeded."}
	}
	return &APIError{Status: http.StatusBadRequest, Code: "Throttling", Sender: true, Message: msg}
}

// CheckPeriod is the functions' schedule as the twin runs it: a scaled
// minute (the drill reads it as DRDRILL_CHECK_PERIOD, as the functions do).
func (s *Server) CheckPeriod() time.Duration { return s.cfg.scaled(RDSLagPeriod) }

// CutPeering blackholes (or heals) the VPC peering: the functions' paths
// into the other region's VPC, here the secondary monitor's probe of the
// primary. Storage replication does not use the peering and is not cut,
// nor is either region's own client path: both databases stay healthy.
func (s *Server) CutPeering(cut bool) {
	for _, l := range s.peering {
		if cut {
			l.Blackhole()
		} else {
			l.Heal()
		}
	}
}

func (s *Server) closePeering() {
	for _, l := range s.peering {
		_ = l.Close()
	}
}

// RDSLagPeriod is how often Aurora publishes AuroraGlobalDBRPOLag: RDS
// sends its metrics to CloudWatch every minute ("Amazon CloudWatch metrics
// for Amazon Aurora", Aurora User Guide). The alarms are evaluated as
// often (their period is 60 s in infra/aws).
const RDSLagPeriod = time.Minute

// publishLoop publishes the secondary cluster's AuroraGlobalDBRPOLag from
// the lab's measured lag, then evaluates the alarms, once per (scaled)
// minute.
func (s *Server) publishLoop() {
	defer s.loops.Done()
	tick := time.NewTicker(s.cfg.scaled(RDSLagPeriod))
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-tick.C:
			s.publishLag(now)
			s.cw.evaluate(now)
			s.runSchedules(now)
		}
	}
}

func (s *Server) publishLag(now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	regions, err := s.data.Regions(ctx)
	if err != nil {
		return // a data plane that cannot answer publishes nothing: missing data
	}
	s.rds.mu.Lock()
	writer := s.rds.gc.writer
	members := s.rds.gc.Members
	s.rds.mu.Unlock()
	for _, m := range members {
		if m.Region == writer {
			continue
		}
		if st := regions[m.Region]; st.Available && st.LagMs != nil {
			dims := map[string]string{"DBClusterIdentifier": m.ClusterID}
			s.cw.put(m.Region, "AWS/RDS", "AuroraGlobalDBReplicationLag", dims, now, *st.LagMs)
			if publishesRPOLag(s.stack.Global.EngineVersion) {
				s.cw.put(m.Region, "AWS/RDS", "AuroraGlobalDBRPOLag", dims, now, *st.LagMs)
			}
		}
	}
}

// publishesRPOLag: Aurora MySQL publishes AuroraGlobalDBRPOLag from engine
// versions 3.04.0 and 2.12.0 on; every version publishes
// AuroraGlobalDBReplicationLag (Aurora User Guide, "Monitoring Amazon Aurora
// global databases": "For lower minor versions … AuroraGlobalDBReplicationLag").
func publishesRPOLag(engineVersion string) bool {
	var major, minor int
	_, v, ok := strings.Cut(engineVersion, "mysql_aurora.")
	if !ok {
		return false
	}
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 3 || (major == 3 && minor >= 4) || (major == 2 && minor >= 12)
}

// runSchedules invokes the functions whose rate has come round (the
// schedules in infra/aws are all rate(1 minute), the loop's own tick). An
// invocation still running from the last tick is not doubled.
func (s *Server) runSchedules(now time.Time) {
	for _, sc := range s.stack.Schedules {
		if sc.Every > RDSLagPeriod {
			continue // only rate(1 minute) is modelled; others are skipped
		}
		if _, running := s.busy.LoadOrStore(sc.Function, true); running {
			continue
		}
		event, _ := json.Marshal(map[string]any{"version": "0", "id": fmt.Sprintf("drdrill-twin-%d", now.UnixNano()),
			"detail-type": "Scheduled Event", "source": "aws.events", "account": s.cfg.Account, "time": now.UTC().Format(time.RFC3339),
			"region": sc.Region, "resources": []string{fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", sc.Region, s.cfg.Account, sc.Rule)}, "detail": map[string]any{}})
		go func(fn string) {
			defer s.busy.Delete(fn)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			_, _ = s.lambda.Invoke(ctx, fn, "schedule", event)
		}(sc.Function)
	}
}

// alarmChanged runs the EventBridge rules on alarm state changes.
func (s *Server) alarmChanged(region, name string, prev, next string) {
	for _, r := range s.stack.AlarmRules {
		if r.Region != region || !strings.HasPrefix(name, r.NamePrefix) || !slices.Contains(r.States, next) {
			continue
		}
		event, _ := json.Marshal(map[string]any{"version": "0", "id": fmt.Sprintf("drdrill-twin-%d", time.Now().UnixNano()),
			"detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch", "account": s.cfg.Account,
			"time": time.Now().UTC().Format(time.RFC3339), "region": region,
			"resources": []string{fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", region, s.cfg.Account, name)},
			"detail":    map[string]any{"alarmName": name, "state": map[string]any{"value": next}, "previousState": map[string]any{"value": prev}}})
		go func(fn string) { _, _ = s.lambda.Invoke(context.Background(), fn, "alarm", event) }(r.Function)
	}
}

// IsolatedRegions are the regions whose database subnets are all on a
// network ACL that allows nothing; DenyACLs the network ACLs that are not a
// region's original one (what a rollback must delete).
func (s *Server) IsolatedRegions() []string { return s.ec2.Isolated() }

// Queues are the SQS queues that exist; QueueSubscriptions the topics'
// sqs subscriptions (what an alarm-path rollback must remove).
func (s *Server) Queues() []string {
	s.sqs.mu.Lock()
	defer s.sqs.mu.Unlock()
	var out []string
	for u := range s.sqs.queues {
		out = append(out, u)
	}
	return out
}

// QueueSubscriptions: see Queues.
func (s *Server) QueueSubscriptions() []string { return s.sns.QueueSubscriptions() }

// DenyACLs: see IsolatedRegions.
func (s *Server) DenyACLs() []string { return s.ec2.DenyACLs() }

// Invocations are the Lambda invocations the twin ran (all functions when name is "").
func (s *Server) Invocations(name string) []Invocation { return s.lambda.Invocations(name) }

// Messages are what was published to an SNS topic (all topics when "").
func (s *Server) Messages(topic string) []Message { return s.sns.Messages(topic) }

// ServeHTTP routes a request by the service and region it was signed for.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := fmt.Sprintf("drdrill-twin-%06d", s.seq.Add(1))
	region, service, ok := signingScope(r)
	if !ok {
		queryErrorResponse(w, &APIError{Status: http.StatusForbidden, Code: "MissingAuthenticationToken", Sender: true,
			Message: "the request is not signed with SigV4: the twin reads the service and region from its credential scope"}, reqID)
		return
	}
	if service == "route53" {
		action := "GetHealthCheck"
		if strings.HasSuffix(r.URL.Path, "/status") {
			action = "GetHealthCheckStatus"
		}
		if e := s.throttled(service, action); e != nil {
			route53Error(w, e.Status, e.Code, e.Message, reqID)
			return
		}
		s.route53.serve(w, r, reqID)
		return
	}
	fn, policy := s.lambda.byAccessKey(accessKey(r))
	p, known := serviceProtocol[service]
	if !known {
		queryErrorResponse(w, &APIError{Status: http.StatusBadRequest, Code: "InvalidAction", Sender: true,
			Message: fmt.Sprintf("the drdrill AWS twin does not model the %s service", service)}, reqID)
		return
	}
	c, e := decodeCall(r, p)
	if e != nil {
		respondError(w, p, &call{ReqID: reqID}, e)
		return
	}
	c.Service, c.Region, c.ReqID = service, region, reqID
	if e := s.throttled(service, c.Action); e != nil {
		if service == "ec2" {
			ec2ErrorResponse(w, &ec2Error{status: e.Status, code: e.Code, text: e.Message}, reqID)
		} else {
			respondError(w, p, c, e)
		}
		return
	}
	if policy != nil {
		// A function's call, signed with its role's credentials: IAM decides.
		if e := s.authorize(fn, policy, c); e != nil {
			respondError(w, p, c, e)
			return
		}
	}
	if service == "ec2" {
		body, e := s.ec2.handle(c)
		if e != nil {
			ec2ErrorResponse(w, e, reqID)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write(body)
		return
	}
	var out smithy.Serializable
	namespace := ""
	switch service {
	case "rds":
		namespace = rdsNamespace
		out, e = s.rds.handle(c)
	case "sts":
		namespace = "https://sts.amazonaws.com/doc/2011-06-15/"
		out, e = s.sts(c)
	case "monitoring":
		out, e = s.cw.handle(c)
	case "secretsmanager":
		out, e = s.secrets.handle(c)
	case "lambda":
		out, e = s.lambda.handle(c)
	case "sqs":
		out, e = s.sqs.handle(c)
	case "sns":
		namespace = "http://sns.amazonaws.com/doc/2010-03-31/"
		out, e = s.sns.handle(c)
	default:
		e = unmodelled(c)
	}
	if e != nil {
		respondError(w, p, c, e)
		return
	}
	respond(w, p, c, namespace, out)
}

func (s *Server) sts(c *call) (smithy.Serializable, *APIError) {
	if c.Action != "GetCallerIdentity" {
		return nil, unmodelled(c)
	}
	return &sts.GetCallerIdentityOutput{Account: awssdk.String(s.cfg.Account),
		Arn: awssdk.String("arn:aws:iam::" + s.cfg.Account + ":user/drdrill-twin"), UserId: awssdk.String("AIDADRDRILLTWIN")}, nil
}
