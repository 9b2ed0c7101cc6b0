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
	rdsschemas "github.com/aws/aws-sdk-go-v2/service/rds/schemas"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"
)

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
	// resync are the members being rebuilt after a failover
	// (SynchronizationStatus pending-resync).
	resync map[string]bool
}

// rdsService answers the RDS global-cluster operations drdrill and its
// Lambdas call, with AWS's documented state over time.
type rdsService struct {
	cfg       Config
	data      DataPlane
	mu        sync.Mutex
	gc        *GlobalCluster
	tags      map[string]string
	secret    Secret     // the database user, to read the data size a rebuild copies
	endpoints *endpoints // the cluster and global endpoints, which follow the roles
	async     sync.WaitGroup
	stop      chan struct{}
}

func newRDSService(cfg Config, data DataPlane, gc *GlobalCluster, tags map[string]string, secret Secret) (*rdsService, error) {
	if gc.resync == nil {
		gc.resync = map[string]bool{}
	}
	ep, err := newEndpoints(cfg, gc.writer)
	if err != nil {
		return nil, err
	}
	return &rdsService{cfg: cfg, data: data, gc: gc, tags: tags, secret: secret, endpoints: ep, stop: make(chan struct{})}, nil
}

// close ends the phases still waiting (a lab operation under way
// finishes first) and the endpoints.
func (s *rdsService) close() {
	close(s.stop)
	s.async.Wait()
	s.endpoints.close()
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

// memberIn is the member in region.
func (s *rdsService) memberIn(region string) Member {
	for _, m := range s.gc.Members {
		if m.Region == region {
			return m
		}
	}
	return Member{Region: region}
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
		g, e := s.promote(c.Form, false)
		if e != nil {
			return nil, e
		}
		return &rds.SwitchoverGlobalClusterOutput{GlobalCluster: g}, nil
	case "FailoverGlobalCluster":
		// Without AllowDataLoss (with Switchover or neither) it is a
		// switchover (RDS API reference, FailoverGlobalCluster).
		g, e := s.promote(c.Form, strings.EqualFold(c.Form.Get("AllowDataLoss"), "true"))
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
	g := &rdstypes.GlobalCluster{GlobalClusterIdentifier: awssdk.String(s.gc.ID), GlobalClusterArn: awssdk.String(s.globalARN()),
		Engine: awssdk.String("aurora-mysql"), EngineVersion: awssdk.String(s.gc.EngineVersion), Status: awssdk.String("available"),
		StorageEncrypted: awssdk.Bool(true), FailoverState: s.gc.failover}
	for _, m := range s.gc.Members {
		g.GlobalClusterMembers = append(g.GlobalClusterMembers, s.memberView(m))
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

// promote starts a switchover or failover (promotion.go), or refuses it
// as AWS does (InvalidGlobalClusterStateFault, InvalidDBClusterStateFault).
func (s *rdsService) promote(form url.Values, dataLoss bool) (*rdstypes.GlobalCluster, *APIError) {
	if id := form.Get("GlobalClusterIdentifier"); !strings.EqualFold(id, s.gc.ID) {
		return nil, &APIError{Status: http.StatusNotFound, Code: "GlobalClusterNotFoundFault", Sender: true,
			Message: fmt.Sprintf("Global cluster %s not found", id)}
	}
	target, ok := s.member(form.Get("TargetDbClusterIdentifier"))
	if !ok {
		return nil, &APIError{Status: http.StatusNotFound, Code: "DBClusterNotFoundFault", Sender: true,
			Message: fmt.Sprintf("DB cluster %s is not a member of global cluster %s", form.Get("TargetDbClusterIdentifier"), s.gc.ID)}
	}
	var regions map[string]RegionState
	if !dataLoss {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		regions, _ = s.data.Regions(ctx)
		cancel()
	}
	s.mu.Lock()
	if e := s.refusePromotion(target, dataLoss, regions); e != nil {
		s.mu.Unlock()
		return nil, e
	}
	from := s.memberIn(s.gc.writer)
	s.gc.failover = &rdstypes.FailoverState{Status: rdstypes.FailoverStatusPending, FromDbClusterArn: awssdk.String(s.clusterARN(from)),
		ToDbClusterArn: awssdk.String(s.clusterARN(target)), IsDataLossAllowed: awssdk.Bool(dataLoss)}
	s.async.Add(1)
	s.mu.Unlock()
	go s.run(promotion{from: from, to: target, dataLoss: dataLoss})
	return s.view(), nil
}

// rdsAPI is RDS as the twin serves it (awsQuery): the global cluster
// operations, DescribeDBClusters and ListTagsForResource.
var rdsAPI = service{
	name:       "rds",
	protocols:  []protocol{awsQuery},
	schema:     rdsschemas.AmazonRDSv19,
	errors:     rds.TypeRegistry,
	throttling: APIError{Status: http.StatusBadRequest, Code: "Throttling", Sender: true, Message: "Rate exceeded"},
	iam:        iamRules{prefix: "rds", required: rdsRequired},
	start:      startRDS,
}

// startRDS reads from the data plane which region holds the writer, unless
// the stack says.
func startRDS(s *Server) (handler, error) {
	gc := s.stack.Global
	if gc.writer == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		w, err := s.data.Primary(ctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("AWS twin: which region holds the writer: %w", err)
		}
		gc.writer = w
	}
	return newRDSService(s.cfg, s.data, &gc, s.stack.Tags, s.stack.Secret)
}

// rdsRequired: RDS's resources (Service Authorization Reference, Amazon
// RDS: cluster and global-cluster ARNs; a promotion needs the action on
// both).
func rdsRequired(s *Server, c *call) []authorization {
	clusterARN := func(id string) string {
		if strings.HasPrefix(id, "arn:") {
			return id
		}
		return fmt.Sprintf("arn:aws:rds:%s:%s:cluster:%s", c.Region, s.cfg.Account, id)
	}
	globalARN := func(id string) string { return fmt.Sprintf("arn:aws:rds::%s:global-cluster:%s", s.cfg.Account, id) }
	switch c.Action {
	case "DescribeDBClusters":
		return []authorization{{action: "rds:DescribeDBClusters", resource: clusterARN(c.Form.Get("DBClusterIdentifier"))}}
	case "DescribeGlobalClusters":
		return []authorization{{action: "rds:DescribeGlobalClusters", resource: globalARN(c.Form.Get("GlobalClusterIdentifier"))}}
	case "FailoverGlobalCluster", "SwitchoverGlobalCluster":
		return []authorization{{action: "rds:" + c.Action, resource: globalARN(c.Form.Get("GlobalClusterIdentifier"))},
			{action: "rds:" + c.Action, resource: clusterARN(c.Form.Get("TargetDbClusterIdentifier"))}}
	case "ListTagsForResource":
		// ResourceName is the ARN whose tags are read (the guard reads
		// the global cluster's drdrill:allowed).
		return []authorization{{action: "rds:ListTagsForResource", resource: c.Form.Get("ResourceName")}}
	}
	return nil
}
