// Package twin is drdrill's AWS twin: an AWS control plane on loopback
// that answers the unmodified AWS SDK, and any other client, over the real
// wire protocols, with the embedded lab as its data plane. It models the
// RDS global-cluster operations (awsQuery) with Aurora's FailoverState
// over time and the lab's real promotion underneath, STS
// GetCallerIdentity, Secrets Manager GetSecretValue (awsJson1_1),
// CloudWatch metrics and metric alarms (rpcv2Cbor, awsJson1_0, awsQuery)
// with the global database's lag published from the lab's, Route 53 health
// checks that follow their alarms (restXml), EC2 network ACLs (ec2Query),
// Lambda (restJson1, the real handlers behind the Runtime API), SNS
// (awsQuery) and SQS (awsJson1_0, awsQuery), each answering in the
// protocol the request came in (service.go: the registry). Answers are
// written by the SDK's own output types serializing themselves, through
// the SDK's own encoders where they are public, so every element name
// comes from the SDK's schemas.
package twin

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	// RebuildTime, when set, is how long rebuilding an old primary after a
	// failover takes (unscaled), instead of the time from its data size
	// (rebuild.go).
	RebuildTime time.Duration
	// Image is the OCI layout (`make image`) ECS tasks run from: what the
	// stack's ECR repository would hold after `make push`.
	Image string
	// Seed seeds the twin's draws within AWS's documented variability
	// (worst.go): the same seed, the same draws. 0 takes one from the clock.
	Seed int64
	// Worst bounds that variability; its zero value is AWS at its
	// documented worst (DefaultWorst).
	Worst Worst
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
	// Buckets are the S3 buckets (the scheduled runner's reports).
	Buckets []Bucket
	// Clusters (ARNs), TaskDefinitions and ScheduledTasks are the
	// scheduled runner: ECS on Fargate, fired by EventBridge Scheduler.
	Clusters        []string
	TaskDefinitions []TaskDefinition
	ScheduledTasks  []ScheduledTask
	// KeyPolicies are the keys' policies (by key ARN), enforced on every
	// use of a key: a service publishing to an encrypted topic, a role
	// using it through SNS or Secrets Manager.
	KeyPolicies map[string]*Policy
	// Harness is the harness's own role (infra/aws harness.tf), whose
	// credentials twin.env gives the harness: nil, the administrator's.
	Harness *Role
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
	running []*running          // the registry's services, started
	byName  map[string]*running // by signing name
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
	rngMu      sync.Mutex
	rng        *rand.Rand
	callsMu    sync.Mutex
	calls      []APICall
}

// Start serves the twin on addr (e.g. 127.0.0.1:0) for stack over data.
func Start(addr string, cfg Config, stack Stack, data DataPlane) (*Server, error) {
	if cfg.Account == "" {
		cfg.Account = "000000000000"
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
	if cfg.Seed == 0 {
		cfg.Seed = time.Now().UnixNano()
	}
	cfg.Worst = cfg.Worst.withDefaults()
	s := &Server{cfg: cfg, stack: stack, ln: ln, data: data, stop: make(chan struct{}), ownLogs: ownLogs,
		rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x64726472696c6c))}
	if err := s.startServices(); err != nil {
		s.closeServices()
		s.closePeering()
		ln.Close()
		if ownLogs {
			_ = os.RemoveAll(cfg.LogDir)
		}
		return nil, err
	}
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
	s.closeServices()
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
				if ref, ok := f.Endpoints[k]; ok {
					if addr, err = serviceOf[*rdsService](s).endpoints.regional(ref, addr); err != nil {
						return nil, err
					}
				}
				env[k] = addr
				continue
			}
			if ref, ok := f.Endpoints[k]; ok {
				// Behind the twin's endpoint: a cluster endpoint is active
				// only in the writer's region (endpoints.go).
				var err error
				if env[k], err = serviceOf[*rdsService](s).endpoints.regional(ref, env[k]); err != nil {
					return nil, err
				}
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
// the one its service documents for a request rate it refuses.
func (s *Server) throttled(svc *service, action string) *APIError {
	s.throttleMu.Lock()
	defer s.throttleMu.Unlock()
	k := svc.name + "." + action
	if s.throttles[k] <= 0 {
		return nil
	}
	s.throttles[k]--
	e := svc.throttling
	return &e
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
			if cw := serviceOf[*cloudWatch](s); cw != nil {
				cw.evaluate(now)
			}
			s.runSchedules(now)
		}
	}
}

func (s *Server) publishLag(now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rds, cw := serviceOf[*rdsService](s), serviceOf[*cloudWatch](s)
	if rds == nil || cw == nil {
		return
	}
	regions, err := s.data.Regions(ctx)
	if err != nil {
		return // a data plane that cannot answer publishes nothing: missing data
	}
	rds.mu.Lock()
	writer := rds.gc.writer
	members := rds.gc.Members
	rds.mu.Unlock()
	for _, m := range members {
		if m.Region == writer {
			continue
		}
		if st := regions[m.Region]; st.Available && st.LagMs != nil {
			dims := map[string]string{"DBClusterIdentifier": m.ClusterID}
			cw.put(m.Region, "AWS/RDS", "AuroraGlobalDBReplicationLag", dims, now, *st.LagMs)
			if publishesRPOLag(s.stack.Global.EngineVersion) {
				cw.put(m.Region, "AWS/RDS", "AuroraGlobalDBRPOLag", dims, now, *st.LagMs)
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
// schedules in infra/aws are all rate(1 minute), the loop's own tick).
// EventBridge invokes a function asynchronously, whether or not its last
// invocation has finished: Lambda runs them side by side.
func (s *Server) runSchedules(now time.Time) {
	lambda := serviceOf[*lambdaService](s)
	if lambda == nil {
		return
	}
	for _, sc := range s.stack.Schedules {
		if sc.Every > RDSLagPeriod {
			continue // only rate(1 minute) is modelled; others are skipped
		}
		event, _ := json.Marshal(map[string]any{"version": "0", "id": fmt.Sprintf("drdrill-twin-%d", now.UnixNano()),
			"detail-type": "Scheduled Event", "source": "aws.events", "account": s.cfg.Account, "time": now.UTC().Format(time.RFC3339),
			"region": sc.Region, "resources": []string{fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", sc.Region, s.cfg.Account, sc.Rule)}, "detail": map[string]any{}})
		lambda.InvokeAsync(sc.Function, "schedule", event)
	}
}

// InvokeAsync invokes a function asynchronously, as an event source
// (EventBridge, SNS) does: the event is queued, retried and may be
// delivered twice as Lambda does (lambda.go).
func (s *Server) InvokeAsync(function, source string, payload []byte) {
	if l := serviceOf[*lambdaService](s); l != nil {
		l.InvokeAsync(function, source, payload)
	}
}

// DroppedEvents are the asynchronous events Lambda gave up on (older than
// six hours, scaled).
func (s *Server) DroppedEvents() []string { return serviceOf[*lambdaService](s).Dropped() }

// alarmChanged runs the EventBridge rules on alarm state changes.
func (s *Server) alarmChanged(region, name string, prev, next string) {
	lambda := serviceOf[*lambdaService](s)
	if lambda == nil {
		return
	}
	for _, r := range s.stack.AlarmRules {
		if r.Region != region || !strings.HasPrefix(name, r.NamePrefix) || !slices.Contains(r.States, next) {
			continue
		}
		event, _ := json.Marshal(map[string]any{"version": "0", "id": fmt.Sprintf("drdrill-twin-%d", time.Now().UnixNano()),
			"detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch", "account": s.cfg.Account,
			"time": time.Now().UTC().Format(time.RFC3339), "region": region,
			"resources": []string{fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", region, s.cfg.Account, name)},
			"detail":    map[string]any{"alarmName": name, "state": map[string]any{"value": next}, "previousState": map[string]any{"value": prev}}})
		lambda.InvokeAsync(r.Function, "alarm", event)
	}
}

// IsolatedRegions are the regions whose database subnets are all on a
// network ACL that allows nothing; DenyACLs the network ACLs that are not a
// region's original one (what a rollback must delete).
func (s *Server) IsolatedRegions() []string { return serviceOf[*ec2Service](s).Isolated() }

// Queues are the SQS queues that exist; QueueSubscriptions the topics'
// sqs subscriptions (what an alarm-path rollback must remove).
func (s *Server) Queues() []string { return serviceOf[*sqsService](s).urls() }

// QueueSubscriptions: see Queues.
func (s *Server) QueueSubscriptions() []string { return serviceOf[*snsService](s).QueueSubscriptions() }

// DenyACLs: see IsolatedRegions.
func (s *Server) DenyACLs() []string { return serviceOf[*ec2Service](s).DenyACLs() }

// Invocations are the Lambda invocations the twin ran (all functions when name is "").
func (s *Server) Invocations(name string) []Invocation {
	return serviceOf[*lambdaService](s).Invocations(name)
}

// AlarmActionFailures are the alarm actions that failed (an alarm history's
// "Failed to execute action" entries): a notification to an encrypted
// topic whose key policy does not admit CloudWatch, for one.
func (s *Server) AlarmActionFailures() []string { return serviceOf[*cloudWatch](s).actionFailures() }

// RefusedDeliveries are the notifications SNS could not deliver to a
// queue, and why (a queue policy not yet in force, a key policy).
func (s *Server) RefusedDeliveries() []string {
	q := serviceOf[*sqsService](s)
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.undelivered...)
}

// Messages are what was published to an SNS topic (all topics when "").
func (s *Server) Messages(topic string) []Message { return serviceOf[*snsService](s).Messages(topic) }

// ServeHTTP dispatches a request: the service its SigV4 scope names
// (lookup), the protocol the request came in (detection), then throttle,
// authorise and handle, answering in that protocol.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := fmt.Sprintf("drdrill-twin-%06d", s.seq.Add(1))
	region, name, signed := signingScope(r)
	var svc *service
	var h handler
	if rs, ok := s.byName[name]; ok {
		svc, h = rs.def, rs.h
	}
	c := &call{Protocol: detectProtocol(r, svc), ReqID: reqID, Service: name, Region: region}
	switch {
	case !signed:
		respondError(w, nil, c, &APIError{Status: http.StatusForbidden, Code: "MissingAuthenticationToken", Sender: true,
			Message: "the request is not signed with SigV4: the twin reads the service and region from its credential scope"})
		return
	case svc == nil:
		respondError(w, nil, c, unknownOperation(c.Protocol, "the drdrill AWS twin does not model the %s service", name))
		return
	case !svc.accepts(c.Protocol):
		respondError(w, svc, c, unknownOperation(c.Protocol, "%s does not accept %s requests (it accepts %v)", name, c.Protocol, svc.protocols))
		return
	}
	decoded, e := decodeCall(r, c.Protocol, svc)
	if e != nil {
		respondError(w, svc, c, e)
		return
	}
	decoded.Service, decoded.Region, decoded.ReqID = name, region, reqID
	c = decoded
	key := accessKey(r)
	// Who signed, found once for the authorisation and the call log.
	who, whoErr := s.principal(key)
	if e := s.throttled(svc, c.Action); e != nil {
		s.logCall(c, key, who, e)
		respondError(w, svc, c, e)
		return
	}
	if e := s.authorize(svc, who, whoErr, c); e != nil {
		s.logCall(c, key, who, e)
		respondError(w, svc, c, e)
		return
	}
	out, e := h.handle(c)
	s.logCall(c, key, who, e)
	if e != nil {
		respondError(w, svc, c, e)
		return
	}
	respond(w, svc, c, out)
}

// APICall is one call the twin answered: the service, action and region,
// who signed it (a role's name, or "administrator") and the error code it
// got ("" for none).
type APICall struct {
	Service, Action, Region, Principal, Code string
	At                                       time.Time
}

func (s *Server) logCall(c *call, key string, p *principal, e *APIError) {
	who := "administrator"
	if p != nil {
		who = p.role
	} else if strings.HasPrefix(key, "ASIA") {
		who = "unknown"
	}
	rec := APICall{Service: c.Service, Action: c.Action, Region: c.Region, Principal: who, At: time.Now()}
	if e != nil {
		rec.Code = e.Code
	}
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	s.calls = append(s.calls, rec)
	if len(s.calls) > 20_000 {
		s.calls = append([]APICall(nil), s.calls[len(s.calls)-10_000:]...)
	}
}

// Calls are the calls the twin answered of service's action (every one
// when both are "").
func (s *Server) Calls(service, action string) []APICall {
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	var out []APICall
	for _, c := range s.calls {
		if (service == "" || c.Service == service) && (action == "" || c.Action == action) {
			out = append(out, c)
		}
	}
	return out
}

// stopContext is a context for work a service runs on its own (a
// promotion, a rebuild, an asynchronous invocation): cancelled when the
// twin closes (stop) or when cancel is called.
func stopContext(stop <-chan struct{}) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
