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
)

// rdsNamespace is the XML namespace of RDS API 2014-10-31 answers.
const rdsNamespace = "http://rds.amazonaws.com/doc/2014-10-31/"

// PromotionTime is how long the twin keeps a global cluster in its
// FailoverState before the writer moves, unscaled: Aurora can promote a
// secondary "to take full read/write workloads in under a minute"
// (Amazon Aurora User Guide, Aurora Global Database overview; see
// shared/reference ANCHORS.md), so a switchover or failover is modelled as
// one minute. Config.TimeScale shortens it for CI.
const PromotionTime = time.Minute

// DataPlane is the lab underneath: which region holds the writer (read
// once, when the twin starts), and a real promotion (switchover: fence, catch up, promote; failover: promote
// with what the secondary has).
type DataPlane interface {
	Primary(ctx context.Context) (string, error)
	Promote(ctx context.Context, region string, allowDataLoss bool) error
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
	async sync.WaitGroup
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

func (s *rdsService) handle(w http.ResponseWriter, form url.Values, reqID string) {
	action := form.Get("Action")
	switch action {
	case "DescribeGlobalClusters":
		o, e := s.describeGlobalClusters(form)
		if e != nil {
			queryErrorResponse(w, e, reqID)
			return
		}
		queryResponse(w, rdsNamespace, action, o, reqID)
		return
	case "SwitchoverGlobalCluster", "FailoverGlobalCluster":
		dataLoss := action == "FailoverGlobalCluster" && strings.EqualFold(form.Get("AllowDataLoss"), "true")
		g, e := s.promote(form, dataLoss, action == "SwitchoverGlobalCluster")
		if e != nil {
			queryErrorResponse(w, e, reqID)
			return
		}
		if action == "SwitchoverGlobalCluster" {
			queryResponse(w, rdsNamespace, action, &rds.SwitchoverGlobalClusterOutput{GlobalCluster: g}, reqID)
		} else {
			queryResponse(w, rdsNamespace, action, &rds.FailoverGlobalClusterOutput{GlobalCluster: g}, reqID)
		}
		return
	}
	queryErrorResponse(w, &QueryError{Status: http.StatusBadRequest, Code: "InvalidAction", Sender: true,
		Message: fmt.Sprintf("the drdrill AWS twin does not model RDS %s", action)}, reqID)
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

func (s *rdsService) describeGlobalClusters(form url.Values) (*rds.DescribeGlobalClustersOutput, *QueryError) {
	if id := form.Get("GlobalClusterIdentifier"); id != "" && !strings.EqualFold(id, s.gc.ID) {
		return nil, &QueryError{Status: http.StatusNotFound, Code: "GlobalClusterNotFoundFault", Sender: true,
			Message: fmt.Sprintf("Global cluster %s not found", id)}
	}
	return &rds.DescribeGlobalClustersOutput{GlobalClusters: []rdstypes.GlobalCluster{*s.view()}}, nil
}

// promote starts a switchover or failover: the FailoverState shows it for
// PromotionTime (scaled), then the lab promotes and the state clears. A
// second one while the first runs is refused, as AWS refuses it
// (InvalidGlobalClusterStateFault).
func (s *rdsService) promote(form url.Values, dataLoss, switchover bool) (*rdstypes.GlobalCluster, *QueryError) {
	if id := form.Get("GlobalClusterIdentifier"); !strings.EqualFold(id, s.gc.ID) {
		return nil, &QueryError{Status: http.StatusNotFound, Code: "GlobalClusterNotFoundFault", Sender: true,
			Message: fmt.Sprintf("Global cluster %s not found", id)}
	}
	target, ok := s.member(form.Get("TargetDbClusterIdentifier"))
	if !ok {
		return nil, &QueryError{Status: http.StatusNotFound, Code: "DBClusterNotFoundFault", Sender: true,
			Message: fmt.Sprintf("DB cluster %s is not a member of global cluster %s", form.Get("TargetDbClusterIdentifier"), s.gc.ID)}
	}
	s.mu.Lock()
	primary := s.gc.writer
	if s.gc.failover != nil {
		s.mu.Unlock()
		return nil, &QueryError{Status: http.StatusBadRequest, Code: "InvalidGlobalClusterStateFault", Sender: true,
			Message: fmt.Sprintf("Global cluster %s is in the %s state", s.gc.ID, s.gc.failover.Status)}
	}
	if target.Region == primary {
		s.mu.Unlock()
		return nil, &QueryError{Status: http.StatusBadRequest, Code: "InvalidDBClusterStateFault", Sender: true,
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
