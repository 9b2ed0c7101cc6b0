package twin

import (
	"fmt"
	"log"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// A global database promotion in phases, at the bounds AWS documents (all
// unscaled; Config.TimeScale shortens them):
//
//	pending         PendingTime: "the global cluster's primary DB cluster and
//	                the specified secondary DB cluster are being verified
//	                before the operation starts" (RDS API reference,
//	                FailoverState)
//	switching-over  a switchover first synchronises the secondary: "Before
//	                the managed planned failover process begins, Aurora
//	                global database synchronizes all secondary clusters with
//	                its primary cluster" and the lag "is directly proportional
//	                to the time it'll take for Aurora to complete failover"
//	                (Aurora User Guide, "Using switchover or failover in
//	                Amazon Aurora Global Database"). The twin waits for the
//	                lab's secondary to apply what the writer had committed
//	                (as long as its measured lag), at most SyncTimeout; then
//	                "the DB cluster in the primary Region becomes read-only"
//	                (same page): the lab fences it, writes fail from here;
//	                then the secondary is promoted, PromotionTime;
//	failing-over    a failover promotes without waiting, PromotionTime, then
//	                the lab fails over (best-effort fencing of the old
//	                primary, as Aurora's);
//	cancelling      CancelTime back to the previous roles, when the target
//	                cannot take over (it does not catch up, the data plane
//	                refuses): "The request to switch over or fail over the
//	                global cluster was cancelled and the primary … and the
//	                selected secondary … are returning to their previous
//	                states" (FailoverState); "it can take some time to return
//	                your Aurora global database to its original configuration"
//	                (User Guide).
//
// When the writer moves the FailoverState clears, the cluster endpoints
// swap and the global writer endpoint's record changes; clients see it
// DNSTTL later (endpoints.go). After a failover the old primary is rebuilt
// (rebuild.go).
const (
	PendingTime = 10 * time.Second
	SyncTimeout = 5 * time.Minute
	CancelTime  = time.Minute
)

// PromotionTime is how long the promotion proper takes, unscaled: from the
// moment a switchover makes the primary read-only (or a failover starts
// failing over) until the writer has moved. AWS documents a managed
// switchover or failover as completing "within a few minutes" (Aurora User
// Guide, "Using switchover or failover in an Amazon Aurora global
// database"; ANCHORS.md §13), while a secondary can be promoted "in under
// a minute". The twin takes two and a half minutes: a few, and more than
// any wait of two minutes or less that drdrill might still carry.
const PromotionTime = 150 * time.Second

// PromotionTimeScaled is PromotionTime at a time scale.
func PromotionTimeScaled(scale float64) time.Duration {
	return Config{TimeScale: scale}.scaled(PromotionTime)
}

// promotion is one switchover or failover in progress.
type promotion struct {
	from, to Member
	dataLoss bool
}

// sleep waits d or until the twin closes (false).
func (s *rdsService) sleep(d time.Duration) bool {
	select {
	case <-s.stop:
		return false
	case <-time.After(d):
		return true
	}
}

func (s *rdsService) setStatus(st rdstypes.FailoverStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gc.failover != nil {
		f := *s.gc.failover
		f.Status = st
		s.gc.failover = &f
	}
}

// run takes a promotion through its phases.
func (s *rdsService) run(p promotion) {
	defer s.async.Done()
	ctx, cancel := stopContext(s.stop)
	defer cancel()
	if !s.sleep(s.cfg.scaled(PendingTime)) {
		return
	}
	if !p.dataLoss {
		s.setStatus("switching-over") // documented, missing from the SDK's enum
		if err := s.data.CatchUp(ctx, p.to.Region, s.cfg.scaled(SyncTimeout)); err != nil {
			s.cancelPromotion(p, fmt.Errorf("the secondary did not synchronise: %w", err))
			return
		}
		// The lab fences the primary (read-only: writes fail from now),
		// lets the secondary apply the rest and promotes it. Until the
		// writer moves below, the endpoints still lead to the old one.
		if err := s.data.Promote(ctx, p.to.Region, false); err != nil {
			s.cancelPromotion(p, err)
			return
		}
		if !s.sleep(s.cfg.scaled(PromotionTime)) {
			return
		}
	} else {
		s.setStatus(rdstypes.FailoverStatusFailingOver)
		if !s.sleep(s.cfg.scaled(PromotionTime)) {
			return
		}
		if err := s.data.Promote(ctx, p.to.Region, true); err != nil {
			s.cancelPromotion(p, err)
			return
		}
	}
	s.mu.Lock()
	s.gc.writer, s.gc.failover, s.gc.lastErr = p.to.Region, nil, nil
	if p.dataLoss {
		s.gc.resync[p.from.Region] = true
	}
	s.mu.Unlock()
	s.endpoints.moveWriter(p.to.Region)
	if p.dataLoss {
		s.async.Add(1)
		go s.rebuild(p.from.Region)
	}
}

// cancelPromotion shows the promotion cancelling for CancelTime, then the
// roles as they were.
func (s *rdsService) cancelPromotion(p promotion, why error) {
	log.Printf("AWS twin: the %s of %s to %s is cancelled: %v", map[bool]string{false: "switchover", true: "failover"}[p.dataLoss], s.gc.ID, p.to.ClusterID, why)
	s.mu.Lock()
	s.gc.lastErr = why
	s.mu.Unlock()
	s.setStatus(rdstypes.FailoverStatusCancelling)
	if !s.sleep(s.cfg.scaled(CancelTime)) {
		return
	}
	s.mu.Lock()
	s.gc.failover = nil
	s.mu.Unlock()
}

// refusePromotion is AWS's answer to a promotion the global cluster cannot
// take now, or nil: one already running, the target already the writer,
// a member being rebuilt ("switchover needs every member healthy"; a
// failover into a cluster without its volume has nothing to promote), or,
// for a switchover, a member that is not available. The exact message
// texts are the twin's; the codes are the API reference's.
func (s *rdsService) refusePromotion(target Member, dataLoss bool, regions map[string]RegionState) *APIError {
	if s.gc.failover != nil {
		return &APIError{Status: 400, Code: "InvalidGlobalClusterStateFault", Sender: true,
			Message: fmt.Sprintf("Global cluster %s is in the %s state", s.gc.ID, s.gc.failover.Status)}
	}
	if target.Region == s.gc.writer {
		return &APIError{Status: 400, Code: "InvalidDBClusterStateFault", Sender: true,
			Message: fmt.Sprintf("DB cluster %s is already the primary cluster of global cluster %s", s.clusterARN(target), s.gc.ID)}
	}
	if dataLoss {
		if s.gc.resync[target.Region] {
			return &APIError{Status: 400, Code: "InvalidDBClusterStateFault", Sender: true,
				Message: fmt.Sprintf("DB cluster %s is not synchronized with global cluster %s (pending-resync): it cannot be promoted until it is rebuilt", s.clusterARN(target), s.gc.ID)}
		}
		return nil
	}
	for _, m := range s.gc.Members {
		if s.gc.resync[m.Region] {
			return &APIError{Status: 400, Code: "InvalidGlobalClusterStateFault", Sender: true,
				Message: fmt.Sprintf("Global cluster %s cannot be switched over: member DB cluster %s is pending-resync; every member must be synchronized", s.gc.ID, s.clusterARN(m))}
		}
		if regions != nil && !regions[m.Region].Available {
			return &APIError{Status: 400, Code: "InvalidGlobalClusterStateFault", Sender: true,
				Message: fmt.Sprintf("Global cluster %s cannot be switched over: member DB cluster %s is not available", s.gc.ID, s.clusterARN(m))}
		}
	}
	return nil
}

// memberView is a member as DescribeGlobalClusters shows it.
func (s *rdsService) memberView(m Member) rdstypes.GlobalClusterMember {
	sync := rdstypes.GlobalClusterMemberSynchronizationStatusConnected
	if s.gc.resync[m.Region] {
		sync = rdstypes.GlobalClusterMemberSynchronizationStatusPendingResync
	}
	v := rdstypes.GlobalClusterMember{DBClusterArn: awssdk.String(s.clusterARN(m)), IsWriter: awssdk.Bool(m.Region == s.gc.writer),
		SynchronizationStatus: sync, GlobalWriteForwardingStatus: rdstypes.WriteForwardingStatusDisabled}
	if m.Region == s.gc.writer {
		for _, r := range s.gc.Members {
			if r.Region != m.Region {
				v.Readers = append(v.Readers, s.clusterARN(r))
			}
		}
	}
	return v
}
