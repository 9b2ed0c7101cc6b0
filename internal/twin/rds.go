package twin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"
)

// rdsNamespace is the XML namespace of RDS API 2014-10-31 answers.
const rdsNamespace = "http://rds.amazonaws.com/doc/2014-10-31/"

// PromotionTime is how long the twin keeps a global cluster in its
// FailoverState before the writer moves, unscaled. AWS documents a managed
// switchover or failover of a global database as completing "within a few
// minutes" (Aurora User Guide, "Using switchover or failover in an Amazon
// Aurora global database"; shared/reference ANCHORS.md §13), while the
// promotion itself can take "under a minute". The twin takes two and a
// half minutes: a few, and more than any wait of two minutes or less that
// drdrill might still carry. Config.TimeScale shortens it for CI.
const PromotionTime = 150 * time.Second

// PromotionTimeScaled is PromotionTime at a time scale.
func PromotionTimeScaled(scale float64) time.Duration {
	return Config{TimeScale: scale}.scaled(PromotionTime)
}

// Member is one regional cluster of the global database.
type Member struct {
	Region    string
	ClusterID string
}

// GlobalCluster is the twin's Aurora global database: its identity, its
// members and, while a switchover or failover runs, its FailoverState.
type GlobalCluster struct {
	ID            string
	EngineVersion string
	Members       []Member

	// writer is the region of the writer cluster, as the control plane
	// records it: set from the data plane when the twin starts, then by the
	// twin's own promotions (a status read in the middle of the lab's
	// catch-up can still show the previous primary).
	writer   string
	failover *rdstypes.FailoverState
	lastErr  error
}

// rdsService answers the RDS global-cluster operations drdrill and its
// Lambdas call, with AWS's documented state over time.
type rdsService struct {
	cfg   Config
	data  DataPlane
	mu    sync.Mutex
	gc    *GlobalCluster
	tags  map[string]string
	async sync.WaitGroup
}

// describeDBClusters answers for the member clusters in the region asked
// (one, by identifier or ARN): "available" while the region's servers run,
// "unavailable" when they do not, and which one is the writer.
func (s *rdsService) describeDBClusters(c *call) (smithy.Serializable, *APIError) {
	ref := c.Form.Get("DBClusterIdentifier")
	var members []Member
	for _, m := range s.gc.Members {
		if m.Region == c.Region && (ref == "" || ref == m.ClusterID || ref == s.clusterARN(m)) {
			members = append(members, m)
		}
	}
	if ref != "" && len(members) == 0 {
		return nil, &APIError{Status: http.StatusNotFound, Code: "DBClusterNotFoundFault", Sender: true,
			Message: fmt.Sprintf("DBCluster %s not found.", ref)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	regions, err := s.data.Regions(ctx)
	if err != nil {
		return nil, &APIError{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Message: "data plane: " + err.Error()}
	}
	s.mu.Lock()
	writer := s.gc.writer
	s.mu.Unlock()
	out := &rds.DescribeDBClustersOutput{}
	for _, m := range members {
		status := "available"
		if !regions[m.Region].Available {
			status = "unavailable"
		}
		out.DBClusters = append(out.DBClusters, rdstypes.DBCluster{DBClusterIdentifier: awssdk.String(m.ClusterID),
			DBClusterArn: awssdk.String(s.clusterARN(m)), Engine: awssdk.String("aurora-mysql"),
			EngineVersion: awssdk.String(s.gc.EngineVersion), EngineMode: awssdk.String("provisioned"), Status: awssdk.String(status),
			GlobalClusterIdentifier: awssdk.String(s.gc.ID), StorageEncrypted: awssdk.Bool(true),
			GlobalWriteForwardingStatus: rdstypes.WriteForwardingStatusDisabled,
			DBClusterMembers: []rdstypes.DBClusterMember{{DBInstanceIdentifier: awssdk.String(m.ClusterID + "-1"),
				IsClusterWriter: awssdk.Bool(m.Region == writer)}}})
	}
	return out, nil
}

// listTags answers the stack's tags (infra/aws sets them as the
// providers' default_tags, so every resource carries them).
func (s *rdsService) listTags(c *call) (smithy.Serializable, *APIError) {
	arn := c.Form.Get("ResourceName")
	_, isMember := s.member(arn)
	if arn != s.globalARN() && !isMember {
		return nil, &APIError{Status: http.StatusNotFound, Code: "DBClusterNotFoundFault", Sender: true,
			Message: fmt.Sprintf("resource %s not found", arn)}
	}
	out := &rds.ListTagsForResourceOutput{}
	for k, v := range s.tags {
		out.TagList = append(out.TagList, rdstypes.Tag{Key: awssdk.String(k), Value: awssdk.String(v)})
	}
	return out, nil
}

func (s *rdsService) clusterARN(m Member) string {
	return fmt.Sprintf("arn:aws:rds:%s:%s:cluster:%s", m.Region, s.cfg.Account, m.ClusterID)
}

func (s *rdsService) globalARN() string {
	return fmt.Sprintf("arn:aws:rds::%s:global-cluster:%s", s.cfg.Account, s.gc.ID)
}

// member finds a member by cluster ARN or identifier.
func (s *rdsService) member(ref string) (Member, bool) {
	for _, m := range s.gc.Members {
		if ref == m.ClusterID || ref == s.clusterARN(m) {
			return m, true
		}
	}
	return Member{}, false
}

func (s *rdsService) handle(c *call) (smithy.Serializable, *APIError) {
	switch c.Action {
	case "DescribeGlobalClusters":
		return s.describeGlobalClusters(c.Form)
	case "SwitchoverGlobalCluster":
		g, e := s.promote(c.Form, false, true)
		if e != nil {
			return nil, e
		}
		return &rds.SwitchoverGlobalClusterOutput{GlobalCluster: g}, nil
	case "FailoverGlobalCluster":
		g, e := s.promote(c.Form, strings.EqualFold(c.Form.Get("AllowDataLoss"), "true"), false)
		if e != nil {
			return nil, e
		}
		return &rds.FailoverGlobalClusterOutput{GlobalCluster: g}, nil
	case "DescribeDBClusters":
		return s.describeDBClusters(c)
	case "ListTagsForResource":
		return s.listTags(c)
	}
	return nil, unmodelled(c)
}

// view is the global cluster as DescribeGlobalClusters shows it now.
func (s *rdsService) view() *rdstypes.GlobalCluster {
	s.mu.Lock()
	defer s.mu.Unlock()
	primary := s.gc.writer
	g := &rdstypes.GlobalCluster{GlobalClusterIdentifier: awssdk.String(s.gc.ID), GlobalClusterArn: awssdk.String(s.globalARN()),
		Engine: awssdk.String("aurora-mysql"), EngineVersion: awssdk.String(s.gc.EngineVersion), Status: awssdk.String("available"),
		StorageEncrypted: awssdk.Bool(true), FailoverState: s.gc.failover}
	for _, m := range s.gc.Members {
		g.GlobalClusterMembers = append(g.GlobalClusterMembers, rdstypes.GlobalClusterMember{
			DBClusterArn: awssdk.String(s.clusterARN(m)), IsWriter: awssdk.Bool(m.Region == primary)})
	}
	return g
}

func (s *rdsService) describeGlobalClusters(form url.Values) (smithy.Serializable, *APIError) {
	if id := form.Get("GlobalClusterIdentifier"); id != "" && !strings.EqualFold(id, s.gc.ID) {
		return nil, &APIError{Status: http.StatusNotFound, Code: "GlobalClusterNotFoundFault", Sender: true,
			Message: fmt.Sprintf("Global cluster %s not found", id)}
	}
	return &rds.DescribeGlobalClustersOutput{GlobalClusters: []rdstypes.GlobalCluster{*s.view()}}, nil
}

// promote starts a switchover or failover: the FailoverState shows it for
// PromotionTime (scaled), then the lab promotes and the state clears. A
// second one while the first runs is refused, as AWS refuses it
// (InvalidGlobalClusterStateFault).
func (s *rdsService) promote(form url.Values, dataLoss, switchover bool) (*rdstypes.GlobalCluster, *APIError) {
	if id := form.Get("GlobalClusterIdentifier"); !strings.EqualFold(id, s.gc.ID) {
		return nil, &APIError{Status: http.StatusNotFound, Code: "GlobalClusterNotFoundFault", Sender: true,
			Message: fmt.Sprintf("Global cluster %s not found", id)}
	}
	target, ok := s.member(form.Get("TargetDbClusterIdentifier"))
	if !ok {
		return nil, &APIError{Status: http.StatusNotFound, Code: "DBClusterNotFoundFault", Sender: true,
			Message: fmt.Sprintf("DB cluster %s is not a member of global cluster %s", form.Get("TargetDbClusterIdentifier"), s.gc.ID)}
	}
	s.mu.Lock()
	primary := s.gc.writer
	if s.gc.failover != nil {
		s.mu.Unlock()
		return nil, &APIError{Status: http.StatusBadRequest, Code: "InvalidGlobalClusterStateFault", Sender: true,
			Message: fmt.Sprintf("Global cluster %s is in the %s state", s.gc.ID, s.gc.failover.Status)}
	}
	if target.Region == primary {
		s.mu.Unlock()
		return nil, &APIError{Status: http.StatusBadRequest, Code: "InvalidDBClusterStateFault", Sender: true,
			Message: fmt.Sprintf("DB cluster %s is already the primary cluster of global cluster %s", s.clusterARN(target), s.gc.ID)}
	}
	from, _ := s.member(primary)
	// "switching-over" is documented (API_FailoverState: "covers the range
	// of Aurora internal operations that take place during the switchover")
	// but missing from the SDK's enum.
	status := rdstypes.FailoverStatus("switching-over")
	if !switchover {
		status = rdstypes.FailoverStatusFailingOver
	}
	s.gc.failover = &rdstypes.FailoverState{Status: status, FromDbClusterArn: awssdk.String(s.clusterARN(from)),
		ToDbClusterArn: awssdk.String(s.clusterARN(target)), IsDataLossAllowed: awssdk.Bool(dataLoss)}
	s.mu.Unlock()
	g := s.view()
	s.async.Add(1)
	go func() {
		defer s.async.Done()
		time.Sleep(s.cfg.scaled(PromotionTime))
		err := s.data.Promote(context.Background(), target.Region, dataLoss)
		s.mu.Lock()
		s.gc.failover, s.gc.lastErr = nil, err
		if err == nil {
			s.gc.writer = target.Region
		}
		s.mu.Unlock()
	}()
	return g, nil
}
