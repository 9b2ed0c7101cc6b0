package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/drdrill/drdrill/internal/healthmetric"
	"github.com/drdrill/drdrill/internal/outputs"
)

// EC2API, LambdaAPI, Route53API and STSAPI are the parts of those clients
// the fault injectors call.
type EC2API interface {
	DescribeNetworkAcls(context.Context, *ec2.DescribeNetworkAclsInput, ...func(*ec2.Options)) (*ec2.DescribeNetworkAclsOutput, error)
	CreateNetworkAcl(context.Context, *ec2.CreateNetworkAclInput, ...func(*ec2.Options)) (*ec2.CreateNetworkAclOutput, error)
	ReplaceNetworkAclAssociation(context.Context, *ec2.ReplaceNetworkAclAssociationInput, ...func(*ec2.Options)) (*ec2.ReplaceNetworkAclAssociationOutput, error)
	DeleteNetworkAcl(context.Context, *ec2.DeleteNetworkAclInput, ...func(*ec2.Options)) (*ec2.DeleteNetworkAclOutput, error)
}

// LambdaAPI changes a function's reserved concurrency.
type LambdaAPI interface {
	GetFunctionConcurrency(context.Context, *lambda.GetFunctionConcurrencyInput, ...func(*lambda.Options)) (*lambda.GetFunctionConcurrencyOutput, error)
	PutFunctionConcurrency(context.Context, *lambda.PutFunctionConcurrencyInput, ...func(*lambda.Options)) (*lambda.PutFunctionConcurrencyOutput, error)
	DeleteFunctionConcurrency(context.Context, *lambda.DeleteFunctionConcurrencyInput, ...func(*lambda.Options)) (*lambda.DeleteFunctionConcurrencyOutput, error)
	GetFunctionConfiguration(context.Context, *lambda.GetFunctionConfigurationInput, ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error)
}

// Route53API reads the health checks (preflight: do they exist).
type Route53API interface {
	GetHealthCheck(context.Context, *route53.GetHealthCheckInput, ...func(*route53.Options)) (*route53.GetHealthCheckOutput, error)
}

// STSAPI identifies the caller's account.
type STSAPI interface {
	GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// TagsAPI reads the global cluster's tags.
type TagsAPI interface {
	ListTagsForResource(context.Context, *rds.ListTagsForResourceInput, ...func(*rds.Options)) (*rds.ListTagsForResourceOutput, error)
}

// AlarmsAPI reads and sets alarm states.
type AlarmsAPI interface {
	DescribeAlarms(context.Context, *cloudwatch.DescribeAlarmsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

// Regional are one region's clients.
type Regional struct {
	Region  string
	RDS     RDSAPI
	Tags    TagsAPI
	Alarms  AlarmsAPI
	EC2     EC2API
	Lambda  LambdaAPI
	Secrets SecretsAPI
	// The alarm path: force an alarm, prove the notification through a queue.
	AlarmSetter AlarmSetterAPI
	SQS         SQSAPI
	Subs        SubscriptionsAPI
}

// Stack is a deployed DR stack as drdrill's AWS target drives it: its
// outputs and the clients of both regions.
type Stack struct {
	Out       outputs.Outputs
	Primary   Regional // the deployment's primary region (outputs' PrimaryRegion)
	Secondary Regional
	Route53   Route53API
	STS       STSAPI
	// AllowedAccounts is DRDRILL_ALLOWED_ACCOUNTS; StopAlarms DRDRILL_STOP_ALARMS.
	AllowedAccounts []string
	StopAlarms      []string
	// Poll is how often waits poll AWS (default 10 s).
	Poll time.Duration
}

// RequiredOutputs are what the AWS target needs from the outputs file.
var RequiredOutputs = []string{
	outputs.GlobalClusterIdentifier, outputs.PrimaryRegion, outputs.SecondaryRegion,
	"PrimaryClusterArn", "SecondaryClusterArn", outputs.GlobalWriterEndpoint, outputs.PrimaryClusterEndpoint, outputs.SecondaryClusterEndpoint,
	"PrimaryReaderEndpoint", "SecondaryReaderEndpoint",
	"DatabaseSecretArn", "PrimaryDatabaseSubnetIds", "SecondaryDatabaseSubnetIds", "PrimaryDatabaseNetworkAclId", "SecondaryDatabaseNetworkAclId",
	"PrimaryHealthMonitorFunctionName", "SecondaryHealthMonitorFunctionName", "FailoverTriggerFunctionName",
	"PrimaryHealthCheckId", "SecondaryHealthCheckId", "ReplicationLagAlarmName", "PrimarySNSTopicArn", "SecondarySNSTopicArn",
}

// ListFromEnv splits a comma-separated environment variable.
func ListFromEnv(name string) []string {
	var out []string
	for _, s := range strings.Split(os.Getenv(name), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ErrNotAllowed is returned when a safety guard refuses to inject.
var ErrNotAllowed = errors.New("fault injection not allowed")

// Guard refuses injection unless the caller's account is allow-listed in
// DRDRILL_ALLOWED_ACCOUNTS and the global cluster carries drdrill:allowed=true,
// and no stop-condition alarm is already in ALARM. It runs before every
// injection; refusing is the default.
func (s *Stack) Guard(ctx context.Context) error {
	if len(s.AllowedAccounts) == 0 {
		return fmt.Errorf("%w: DRDRILL_ALLOWED_ACCOUNTS is empty: list the AWS account ids drdrill may inject faults into", ErrNotAllowed)
	}
	id, err := s.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("%w: cannot identify the AWS account (STS GetCallerIdentity: %v)", ErrNotAllowed, err)
	}
	account := awssdk.ToString(id.Account)
	allowed := false
	for _, a := range s.AllowedAccounts {
		allowed = allowed || a == account
	}
	if !allowed {
		return fmt.Errorf("%w: account %s is not in DRDRILL_ALLOWED_ACCOUNTS (%q); add it to drill this account", ErrNotAllowed, account, strings.Join(s.AllowedAccounts, ","))
	}
	g, err := s.globalCluster(ctx)
	if err != nil {
		return err
	}
	tags, err := s.Primary.Tags.ListTagsForResource(ctx, &rds.ListTagsForResourceInput{ResourceName: g.arn})
	if err != nil {
		return fmt.Errorf("%w: cannot read the tags of %s: %v", ErrNotAllowed, awssdk.ToString(g.arn), err)
	}
	tagged := false
	for _, t := range tags.TagList {
		tagged = tagged || (awssdk.ToString(t.Key) == "drdrill:allowed" && awssdk.ToString(t.Value) == "true")
	}
	if !tagged {
		return fmt.Errorf("%w: global cluster %s lacks the tag drdrill:allowed=true", ErrNotAllowed, awssdk.ToString(g.arn))
	}
	return s.CheckStopConditions(ctx)
}

// CheckStopConditions fails when any stop-condition alarm is in ALARM
// (AWS FIS stop-condition semantics: abort and roll everything back). It
// fails closed: a named alarm found in neither region is an error (a typo
// must not disable the stop condition), and composite alarms count —
// DescribeAlarms lists only metric alarms unless AlarmTypes asks for both
// (CloudWatch API reference, DescribeAlarms).
func (s *Stack) CheckStopConditions(ctx context.Context) error {
	if len(s.StopAlarms) == 0 {
		return nil
	}
	found := map[string]bool{}
	var firing []string
	for _, r := range []Regional{s.Primary, s.Secondary} {
		out, err := r.Alarms.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: s.StopAlarms,
			AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm, cwtypes.AlarmTypeCompositeAlarm}})
		if err != nil {
			return fmt.Errorf("stop conditions: DescribeAlarms in %s: %w", r.Region, err)
		}
		for _, a := range out.MetricAlarms {
			found[awssdk.ToString(a.AlarmName)] = true
			if a.StateValue == cwtypes.StateValueAlarm {
				firing = append(firing, awssdk.ToString(a.AlarmName)+" ("+r.Region+")")
			}
		}
		for _, a := range out.CompositeAlarms {
			found[awssdk.ToString(a.AlarmName)] = true
			if a.StateValue == cwtypes.StateValueAlarm {
				firing = append(firing, awssdk.ToString(a.AlarmName)+" ("+r.Region+", composite)")
			}
		}
	}
	var missing []string
	for _, n := range s.StopAlarms {
		if !found[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("stop condition: alarm %s not found in %s or %s: fix DRDRILL_STOP_ALARMS (a stop condition that cannot be read never stops anything)",
			strings.Join(missing, ", "), s.Primary.Region, s.Secondary.Region)
	}
	if len(firing) > 0 {
		return fmt.Errorf("stop condition: %s in ALARM: abort and roll back", strings.Join(firing, ", "))
	}
	return nil
}

type globalState struct {
	arn           *string
	writerARN     string
	members       []string
	failoverState string
	failoverTo    string   // ToDbClusterArn of the promotion in FailoverState
	resyncing     []string // members whose SynchronizationStatus is pending-resync
	engineVersion string
}

func (s *Stack) globalCluster(ctx context.Context) (globalState, error) {
	id := s.Out[outputs.GlobalClusterIdentifier]
	out, err := s.Primary.RDS.DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: &id})
	if err != nil {
		// The primary region may be the one that is down: ask the other.
		if out, err = s.Secondary.RDS.DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: &id}); err != nil {
			return globalState{}, fmt.Errorf("DescribeGlobalClusters %s: %w", id, err)
		}
	}
	if len(out.GlobalClusters) == 0 {
		return globalState{}, fmt.Errorf("global cluster %s not found: check GlobalClusterIdentifier in the outputs", id)
	}
	g := out.GlobalClusters[0]
	st := globalState{arn: g.GlobalClusterArn, engineVersion: awssdk.ToString(g.EngineVersion)}
	for _, m := range g.GlobalClusterMembers {
		st.members = append(st.members, awssdk.ToString(m.DBClusterArn))
		if awssdk.ToBool(m.IsWriter) {
			st.writerARN = awssdk.ToString(m.DBClusterArn)
		}
		// connected | pending-resync (RDS API reference,
		// GlobalClusterMember); absent counts as connected.
		if m.SynchronizationStatus == rdstypes.GlobalClusterMemberSynchronizationStatusPendingResync {
			st.resyncing = append(st.resyncing, awssdk.ToString(m.DBClusterArn))
		}
	}
	if g.FailoverState != nil {
		st.failoverState = string(g.FailoverState.Status)
		st.failoverTo = awssdk.ToString(g.FailoverState.ToDbClusterArn)
	}
	return st, nil
}

// WriterRegion is the region whose cluster is the global writer now.
func (s *Stack) WriterRegion(ctx context.Context) (string, string, error) {
	g, err := s.globalCluster(ctx)
	if err != nil {
		return "", "", err
	}
	return s.writerOf(g)
}

func (s *Stack) writerOf(g globalState) (string, string, error) {
	switch g.writerARN {
	case s.Out["PrimaryClusterArn"]:
		return s.Out[outputs.PrimaryRegion], g.failoverState, nil
	case s.Out["SecondaryClusterArn"]:
		return s.Out[outputs.SecondaryRegion], g.failoverState, nil
	}
	return "", g.failoverState, fmt.Errorf("the global writer %q is neither cluster in the outputs", g.writerARN)
}

func (s *Stack) clusterARN(region string) (string, error) {
	switch region {
	case s.Out[outputs.PrimaryRegion]:
		return s.Out["PrimaryClusterArn"], nil
	case s.Out[outputs.SecondaryRegion]:
		return s.Out["SecondaryClusterArn"], nil
	}
	return "", fmt.Errorf("unknown region %q (the stack has %s and %s)", region, s.Out[outputs.PrimaryRegion], s.Out[outputs.SecondaryRegion])
}

func (s *Stack) regional(region string) (Regional, error) {
	switch region {
	case s.Primary.Region:
		return s.Primary, nil
	case s.Secondary.Region:
		return s.Secondary, nil
	}
	return Regional{}, fmt.Errorf("unknown region %q", region)
}

// AlarmStates returns the state of the named alarms in both regions.
func (s *Stack) AlarmStates(ctx context.Context, names []string) (map[string]string, error) {
	states := map[string]string{}
	for _, r := range []Regional{s.Primary, s.Secondary} {
		out, err := r.Alarms.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: names})
		if err != nil {
			return nil, fmt.Errorf("DescribeAlarms in %s: %w", r.Region, err)
		}
		for _, a := range out.MetricAlarms {
			states[awssdk.ToString(a.AlarmName)] = string(a.StateValue)
		}
	}
	return states, nil
}

// ClusterAvailable reports whether region's cluster is "available".
func (s *Stack) ClusterAvailable(ctx context.Context, region string) (bool, string, error) {
	r, err := s.regional(region)
	if err != nil {
		return false, "", err
	}
	arn, _ := s.clusterARN(region)
	out, err := r.RDS.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: &arn})
	if err != nil {
		return false, "", err
	}
	if len(out.DBClusters) == 0 {
		return false, "not found", nil
	}
	st := awssdk.ToString(out.DBClusters[0].Status)
	return st == "available", st, nil
}

// IsolatedSubnets lists the region's database subnets that are not on the
// stack's own database network ACL (outputs *DatabaseNetworkAclId): a
// region cut off by a network-ACL isolation, or half restored.
func (s *Stack) IsolatedSubnets(ctx context.Context, region string) ([]string, error) {
	r, err := s.regional(region)
	if err != nil {
		return nil, err
	}
	subnetsKey, aclKey := "PrimaryDatabaseSubnetIds", "PrimaryDatabaseNetworkAclId"
	if region == s.Secondary.Region {
		subnetsKey, aclKey = "SecondaryDatabaseSubnetIds", "SecondaryDatabaseNetworkAclId"
	}
	var subnets []string
	if err := json.Unmarshal([]byte(s.Out[subnetsKey]), &subnets); err != nil || len(subnets) == 0 || s.Out[aclKey] == "" {
		return nil, nil // an outputs file without the network: nothing to check against
	}
	acls, err := r.EC2.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: []ec2types.Filter{{Name: awssdk.String("association.subnet-id"), Values: subnets}}})
	if err != nil {
		return nil, fmt.Errorf("DescribeNetworkAcls: %w", err)
	}
	var out []string
	for _, a := range acls.NetworkAcls {
		// A matched ACL lists all its associations, other subnets' too.
		for _, as := range a.Associations {
			if !slices.Contains(subnets, awssdk.ToString(as.SubnetId)) {
				continue
			}
			if awssdk.ToString(as.NetworkAclId) != s.Out[aclKey] {
				out = append(out, awssdk.ToString(as.SubnetId)+" on "+awssdk.ToString(as.NetworkAclId))
			}
		}
	}
	return out, nil
}

// Isolation is what IsolateRegion changed, for an exact rollback.
type Isolation struct {
	Region   string            `json:"region"`
	VPC      string            `json:"vpc"`
	DenyACL  string            `json:"deny_acl"`
	Original map[string]string `json:"original"` // subnet id → original network ACL id
	// DenyCreatedNs is when the deny ACL was created: until EC2's
	// eventual consistency has had its time, "not found" may mean "not yet
	// visible", not "deleted".
	DenyCreatedNs int64 `json:"deny_created_ns,omitempty"`
	// OriginalAssociations and DenyAssociations are each moved subnet's
	// association ids before and after the move: the restore uses the
	// latter, and tells a stale DescribeNetworkAcls by the former.
	OriginalAssociations map[string]string `json:"original_associations,omitempty"`
	DenyAssociations     map[string]string `json:"deny_associations,omitempty"`
	// CutAtNs is when the first subnet was moved: a subnet is cut as its
	// association is replaced, so the fault starts there.
	CutAtNs int64 `json:"cut_at_ns,omitempty"`
}

// ResolveIsolation finds a region's database subnets and the network ACL
// each is on now (read-only): what IsolateRegion will change and
// RestoreRegion will put back. Nothing found is an error (FIS
// emptyTargetResolutionMode=fail). Each subnet must be on the stack's own
// database ACL (outputs *DatabaseNetworkAclId): DescribeNetworkAcls may
// still show the ACL of an isolation just rolled back (EC2's eventual
// consistency), so it is asked again with backoff, and a subnet that stays
// on another ACL is refused — recording that ACL as the "original" would
// make the rollback restore a cut.
func (s *Stack) ResolveIsolation(ctx context.Context, region string) (Isolation, error) {
	r, err := s.regional(region)
	if err != nil {
		return Isolation{}, err
	}
	key, aclKey := "PrimaryDatabaseSubnetIds", "PrimaryDatabaseNetworkAclId"
	if region == s.Secondary.Region {
		key, aclKey = "SecondaryDatabaseSubnetIds", "SecondaryDatabaseNetworkAclId"
	}
	var subnets []string
	if err := json.Unmarshal([]byte(s.Out[key]), &subnets); err != nil || len(subnets) == 0 {
		return Isolation{}, fmt.Errorf("outputs %s=%q: want a non-empty JSON list of subnet ids (FIS emptyTargetResolutionMode=fail)", key, s.Out[key])
	}
	var iso Isolation
	err = s.settle(ctx, "resolving the isolation of "+region, []string{codeNotYet}, func() error {
		acls, err := r.EC2.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: []ec2types.Filter{{Name: awssdk.String("association.subnet-id"), Values: subnets}}})
		if err != nil {
			return fmt.Errorf("DescribeNetworkAcls: %w", err)
		}
		iso = Isolation{Region: region, Original: map[string]string{}}
		for _, a := range acls.NetworkAcls {
			iso.VPC = awssdk.ToString(a.VpcId)
			for _, as := range a.Associations {
				if sn := awssdk.ToString(as.SubnetId); slices.Contains(subnets, sn) {
					iso.Original[sn] = awssdk.ToString(as.NetworkAclId)
				}
			}
		}
		if len(iso.Original) != len(subnets) {
			return notYet("found network ACL associations for %d of %d subnets %v (FIS emptyTargetResolutionMode=fail)", len(iso.Original), len(subnets), subnets)
		}
		if own := s.Out[aclKey]; own != "" {
			for _, sn := range subnets {
				if iso.Original[sn] != own {
					return notYet("subnet %s is on network ACL %s, not the stack's %s: an isolation is still held or was not rolled back (`drdrill recover`)", sn, iso.Original[sn], own)
				}
			}
		}
		return nil
	})
	if err != nil {
		return Isolation{}, err
	}
	return iso, nil
}

// codeNotYet marks a state AWS has not shown yet (a describe not yet
// showing a change): settle retries it like a NotFound.
const codeNotYet = "drdrill.NotYetConsistent"

// notYet is a state not (yet) as expected.
func notYet(format string, args ...any) error {
	return &smithy.GenericAPIError{Code: codeNotYet, Message: fmt.Sprintf(format, args...)}
}

// associationOf is the network ACL and association id a subnet is on, as
// DescribeNetworkAcls shows it now ("" when it shows none).
func associationOf(ctx context.Context, r Regional, subnet string) (acl, id string, err error) {
	out, err := r.EC2.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: []ec2types.Filter{{Name: awssdk.String("association.subnet-id"), Values: []string{subnet}}}})
	if err != nil {
		return "", "", fmt.Errorf("DescribeNetworkAcls %s: %w", subnet, err)
	}
	for _, a := range out.NetworkAcls {
		for _, as := range a.Associations {
			if awssdk.ToString(as.SubnetId) == subnet {
				return awssdk.ToString(as.NetworkAclId), awssdk.ToString(as.NetworkAclAssociationId), nil
			}
		}
	}
	return "", "", nil
}

// sortedSubnets are the isolation's subnets in a fixed order.
func (iso Isolation) sortedSubnets() []string {
	out := make([]string, 0, len(iso.Original))
	for sn := range iso.Original {
		out = append(out, sn)
	}
	slices.Sort(out)
	return out
}

// IsolateRegion cuts a region's database subnets off, like FIS
// aws:network:disrupt-connectivity: a new network ACL (which denies all by
// default) replaces each subnet's association. It cuts clients and Lambdas,
// not Aurora's storage replication. iso.DenyACL is set as soon as the ACL
// exists, so a failure half-way can still be rolled back.
//
// EC2 is eventually consistent: the new ACL may be InvalidNetworkAclID.NotFound
// for a while, and DescribeNetworkAcls may give an association id that
// has just been replaced (InvalidAssociationID.NotFound); both are retried
// with backoff (settle). Each subnet is cut as it is moved, so iso.CutAtNs
// is the moment the first move was sent.
//
// progress, if not nil, is called with the isolation as it stands right
// after the deny ACL is created, before any subnet is moved onto it, and
// after each subnet is moved; an error from it (the ledger could not
// record it) stops the isolation.
func (s *Stack) IsolateRegion(ctx context.Context, iso *Isolation, progress func(Isolation) error) error {
	r, err := s.regional(iso.Region)
	if err != nil {
		return err
	}
	record := func(what string) error {
		if progress == nil {
			return nil
		}
		if err := progress(*iso); err != nil {
			return fmt.Errorf("recording %s: %w", what, err)
		}
		return nil
	}
	deny, err := r.EC2.CreateNetworkAcl(ctx, &ec2.CreateNetworkAclInput{VpcId: &iso.VPC, TagSpecifications: []ec2types.TagSpecification{{
		ResourceType: ec2types.ResourceTypeNetworkAcl, Tags: []ec2types.Tag{{Key: awssdk.String("managedByDrdrill"), Value: awssdk.String("true")}, {Key: awssdk.String("Name"), Value: awssdk.String("drdrill-isolation-deny-all")}}}}})
	if err != nil {
		return fmt.Errorf("CreateNetworkAcl: %w", err)
	}
	iso.DenyACL, iso.DenyCreatedNs = awssdk.ToString(deny.NetworkAcl.NetworkAclId), time.Now().UnixNano()
	iso.OriginalAssociations, iso.DenyAssociations = map[string]string{}, map[string]string{}
	if err := record("the deny ACL " + iso.DenyACL + " before using it"); err != nil {
		return err
	}
	for _, sn := range iso.sortedSubnets() {
		err := s.settle(ctx, "moving "+sn+" onto "+iso.DenyACL, []string{"InvalidNetworkAclID.NotFound", "InvalidAssociationID.NotFound", codeNotYet}, func() error {
			acl, id, err := associationOf(ctx, r, sn)
			switch {
			case err != nil:
				return err
			case acl == iso.DenyACL: // moved by an earlier try whose answer was lost
				iso.DenyAssociations[sn] = id
				return nil
			case id == "":
				return notYet("DescribeNetworkAcls shows no association for subnet %s", sn)
			}
			iso.OriginalAssociations[sn] = id
			sent := time.Now()
			out, err := r.EC2.ReplaceNetworkAclAssociation(ctx, &ec2.ReplaceNetworkAclAssociationInput{AssociationId: &id, NetworkAclId: &iso.DenyACL})
			if err != nil {
				return fmt.Errorf("ReplaceNetworkAclAssociation %s: %w", sn, err)
			}
			if iso.CutAtNs == 0 {
				iso.CutAtNs = sent.UnixNano()
			}
			iso.DenyAssociations[sn] = awssdk.ToString(out.NewAssociationId)
			return nil
		})
		if err != nil {
			return err
		}
		if err := record(sn + " moved onto " + iso.DenyACL); err != nil {
			return err
		}
	}
	return nil
}

// RestoreRegion puts every subnet back on its original ACL and deletes the
// deny-all ACL. It is idempotent: subnets already on their original ACL are
// left alone. Each moved subnet goes back by the association id its move
// returned; where that is not known (or not yet propagated) by what
// DescribeNetworkAcls shows. The restore is done when EC2 deletes the deny
// ACL — it refuses (DependencyViolation) while any subnet is really on it,
// whatever a stale describe shows — and DescribeNetworkAcls shows every
// subnet on its original ACL, so that the next reader (a switch-back's
// check that the region is reachable) sees it restored. Each step retries
// EC2's eventual consistency with backoff (settle).
func (s *Stack) RestoreRegion(ctx context.Context, iso Isolation) error {
	r, err := s.regional(iso.Region)
	if err != nil {
		return err
	}
	pending := maps.Clone(iso.DenyAssociations)
	move := func(sn string) error {
		orig := iso.Original[sn]
		if id := pending[sn]; id != "" {
			_, err := r.EC2.ReplaceNetworkAclAssociation(ctx, &ec2.ReplaceNetworkAclAssociationInput{AssociationId: &id, NetworkAclId: &orig})
			if err == nil {
				delete(pending, sn)
				return nil
			}
			if apiCode(err) != "InvalidAssociationID.NotFound" {
				return fmt.Errorf("restore %s to %s: %w", sn, orig, err)
			}
			// Not propagated yet, or replaced since: look.
		}
		acl, id, err := associationOf(ctx, r, sn)
		if err != nil || acl == orig || id == "" {
			return err
		}
		if _, err := r.EC2.ReplaceNetworkAclAssociation(ctx, &ec2.ReplaceNetworkAclAssociationInput{AssociationId: &id, NetworkAclId: &orig}); err != nil &&
			apiCode(err) != "InvalidAssociationID.NotFound" {
			return fmt.Errorf("restore %s to %s: %w", sn, orig, err)
		}
		delete(pending, sn)
		return nil
	}
	young := func() bool { return time.Since(time.Unix(0, iso.DenyCreatedNs)) < s.settleBound() }
	err = s.settle(ctx, "restoring "+iso.Region+"'s database subnets", []string{"DependencyViolation", "InvalidNetworkAclID.NotFound", codeNotYet}, func() error {
		for _, sn := range iso.sortedSubnets() {
			if err := move(sn); err != nil {
				return err
			}
		}
		if iso.DenyACL == "" {
			return nil
		}
		_, err := r.EC2.DeleteNetworkAcl(ctx, &ec2.DeleteNetworkAclInput{NetworkAclId: &iso.DenyACL})
		switch {
		case err == nil:
			return nil
		case apiCode(err) == "InvalidNetworkAclID.NotFound" && !young():
			return nil // deleted by an earlier rollback
		case apiCode(err) == "DependencyViolation":
			return notYet("the deny ACL %s is still in use (%v): a subnet's move has not shown yet", iso.DenyACL, err)
		}
		return fmt.Errorf("DeleteNetworkAcl %s: %w", iso.DenyACL, err)
	})
	if err != nil {
		return err
	}
	return s.settle(ctx, "confirming "+iso.Region+"'s database subnets are restored", []string{codeNotYet}, func() error {
		for _, sn := range iso.sortedSubnets() {
			acl, _, err := associationOf(ctx, r, sn)
			if err != nil {
				return err
			}
			if acl != iso.Original[sn] {
				return notYet("DescribeNetworkAcls shows subnet %s on %q, not yet on %s", sn, acl, iso.Original[sn])
			}
		}
		return nil
	})
}

// PauseMonitor sets a health monitor's reserved concurrency to 0 and
// returns the previous setting ("" when it had none). progress, if not
// nil, gets the previous setting before anything is changed, so that a
// ledger holds it if the harness dies right after the change.
func (s *Stack) PauseMonitor(ctx context.Context, region, function string, progress func(prev string) error) (string, error) {
	r, err := s.regional(region)
	if err != nil {
		return "", err
	}
	cur, err := r.Lambda.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: &function})
	if err != nil {
		return "", fmt.Errorf("GetFunctionConcurrency %s: %w", function, err)
	}
	prev := ""
	if cur.ReservedConcurrentExecutions != nil {
		prev = fmt.Sprint(*cur.ReservedConcurrentExecutions)
	}
	if progress != nil {
		if err := progress(prev); err != nil {
			return prev, err
		}
	}
	if _, err := r.Lambda.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: &function, ReservedConcurrentExecutions: awssdk.Int32(0)}); err != nil {
		return prev, fmt.Errorf("PutFunctionConcurrency %s 0: %w", function, err)
	}
	return prev, nil
}

// ResumeMonitor restores the previous reserved concurrency.
//
// It returns once the monitor reports again: the events Lambda kept while
// the monitor was stopped come back on Lambda's own retry schedule (up to
// five minutes apart, for up to six hours: Lambda Developer Guide, "How
// Lambda handles errors and retries with asynchronous invocation") beside
// the schedule's new ones, so the monitoring the failover decision rests
// on is back only when a check stamped after the resume is in CloudWatch.
// The released checks probe the region as it is now and stamp their own
// start, and the trigger counts only a fresh, gap-free run of them, so the
// burst cannot revive the failures of an incident already over.
func (s *Stack) ResumeMonitor(ctx context.Context, region, function, prev string) error {
	r, err := s.regional(region)
	if err != nil {
		return err
	}
	resumed := time.Now()
	if prev == "" {
		_, err = r.Lambda.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: &function})
	} else {
		var n int32
		if _, err := fmt.Sscan(prev, &n); err != nil {
			return fmt.Errorf("previous concurrency %q: %w", prev, err)
		}
		_, err = r.Lambda.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: &function, ReservedConcurrentExecutions: &n})
	}
	if err != nil {
		return err
	}
	return s.waitReporting(ctx, r, function, resumed)
}

// WaitMonitorsHealthy waits until the stack's own health monitoring sees
// region healthy again after since: the region's monitor publishes
// RegionHealthy 1 and the other region's monitor PeerHealthy 1 for it,
// each in a datapoint stamped after since. A switch-back that does not
// wait for this can be undone by the failover trigger still counting the
// failures it saw while the region was cut off.
func (s *Stack) WaitMonitorsHealthy(ctx context.Context, region string, since time.Time, timeout time.Duration) error {
	r, err := s.regional(region)
	if err != nil {
		return err
	}
	other := s.Secondary
	if region == s.Secondary.Region {
		other = s.Primary
	}
	fresh := func(rg Regional, metric string) (bool, error) {
		cw, ok := rg.Alarms.(CloudWatchAPI)
		if !ok {
			return false, fmt.Errorf("no CloudWatch metrics client for %s", rg.Region)
		}
		res, err := healthmetric.Query(ctx, cw, healthmetric.Namespace, metric, "Region", region, 10*time.Minute, time.Minute, "Minimum")
		if err != nil || len(res.Values) == 0 || len(res.Timestamps) == 0 {
			return false, err
		}
		return res.Values[0] == 1 && res.Timestamps[0].After(since), nil
	}
	var own, peer bool
	var err1, err2 error
	return s.pollUntil(ctx, timeout, func() bool {
		own, err1 = fresh(r, healthmetric.MetricRegionHealthy)
		peer, err2 = fresh(other, healthmetric.MetricPeerHealthy)
		return own && peer
	}, func() error {
		return fmt.Errorf("the health monitors do not see %s healthy %v after it was restored (RegionHealthy fresh and 1: %v, PeerHealthy: %v; %v)",
			region, timeout, own, peer, errors.Join(err1, err2))
	})
}
