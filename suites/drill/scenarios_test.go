package drill_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/drdrill/drdrill/internal/check"
	"github.com/drdrill/drdrill/internal/fault"
	"github.com/drdrill/drdrill/suites/framework"
)

// Every scenario starts from and returns to the steady state, and undoes
// its faults through DeferCleanup, newest first, even when a step fails.
// beginScenario checks that every fault the scenario injects is available
// on the target — skipping before anything starts if one is not — then
// restores and checks the steady state, and returns the primary and
// secondary regions.
func beginScenario(ctx context.Context, name string, faults ...string) (string, string) {
	d.Requires(faults...)
	d.Restore()
	topo := framework.ExpectSteadyState(ctx, d.Target, d.Bounds().Restore)
	secondary := d.Target.Regions()[1]
	if topo.Primary == secondary {
		secondary = d.Target.Regions()[0]
	}
	return topo.Primary, secondary
}

func plannedSwitchover() bool {
	return Describe("Planned switchover", framework.ScenarioLabels("planned-switchover"), func() {
		It("moves the primary with no acknowledged write lost (RPO 0)", func(ctx SpecContext) {
			_, secondary := beginScenario(ctx, "planned-switchover", "planned-switchover")
			s := d.Begin(ctx, "planned-switchover")
			d.HoldBeforeFault(ctx, "writes before the switchover", framework.PreFaultHold)
			h := d.Inject(ctx, s, "planned-switchover", nil)
			d.WaitPrimary(ctx, secondary, d.Bounds().Promotion)
			d.Hold(ctx, "writes on the new primary", 3*time.Second)
			By("reading what survived in every region")
			Expect(s.FinalRead(ctx)).To(Succeed())
			Expect(s.Rollback(ctx, h)).To(Succeed())
			res, err := s.Finish(ctx)
			Expect(err).NotTo(HaveOccurred())
			d.Judge("planned-switchover", res)
		}, SpecTimeout(framework.ScenarioTimeout()))
	})
}

func regionOutage() bool {
	return Describe("Region outage", framework.ScenarioLabels("region-outage"), func() {
		It("fails over automatically and loses at most what the policy allows", func(ctx SpecContext) {
			_, secondary := beginScenario(ctx, "region-outage", "region-crash")
			s := d.Begin(ctx, "region-outage")
			d.HoldBeforeFault(ctx, "writes before the outage", framework.PreFaultHold)
			h := d.Inject(ctx, s, "region-crash", nil)
			took := d.WaitPrimary(ctx, secondary, d.Bounds().Promotion)
			framework.Record("failover_observed_ms", took.Milliseconds())
			d.Hold(ctx, "writes on the new primary", 3*time.Second)
			By("reading what survived on the new primary")
			Expect(s.FinalRead(ctx)).To(Succeed())
			Expect(s.Rollback(ctx, h)).To(Succeed())
			res, err := s.Finish(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(res.RTO.DetectMs).NotTo(BeNil(), "the controller never reported detecting the outage")
			d.Judge("region-outage", res)
		}, SpecTimeout(framework.ScenarioTimeout()))
	})
}

func regionFreeze() bool {
	return Describe("Region freeze", framework.ScenarioLabels("region-freeze"), func() {
		It("fails over from a frozen primary and re-seeds it instead of resuming it", func(ctx SpecContext) {
			primary, secondary := beginScenario(ctx, "region-freeze", "region-freeze")
			s := d.Begin(ctx, "region-freeze")
			d.HoldBeforeFault(ctx, "writes before the freeze", framework.PreFaultHold)
			h := d.Inject(ctx, s, "region-freeze", nil)
			d.WaitPrimary(ctx, secondary, d.Bounds().Promotion)
			d.Hold(ctx, "writes on the new primary", 3*time.Second)
			Expect(s.FinalRead(ctx)).To(Succeed())
			Expect(s.Rollback(ctx, h)).To(Succeed())
			res, err := s.Finish(ctx)
			Expect(err).NotTo(HaveOccurred())
			By("checking the frozen old primary was re-seeded, not resumed")
			ev, err := d.Target.Events(ctx, 0)
			Expect(err).NotTo(HaveOccurred())
			Expect(ev).To(ContainElement(And(HaveField("Kind", "reseed"), HaveField("Region", primary))))
			d.Judge("region-freeze", res)
		}, SpecTimeout(framework.ScenarioTimeout()))
	})
}

// partitionThenFailover is the runbook both partition scenarios share:
// partition the regions (controlPath: cut or survives), fail over to the
// secondary, read both regions before healing, roll back and check. It
// returns the original primary and the check.
func partitionThenFailover(ctx context.Context, name, controlPath, partitioned, promoted string) (string, check.Result) {
	primary, secondary := beginScenario(ctx, name, "partition", "unplanned-failover")
	s := d.Begin(ctx, name)
	d.HoldBeforeFault(ctx, "writes before the partition", framework.PreFaultHold)
	d.Inject(ctx, s, "partition", fault.Params{"control_path": controlPath})
	d.Hold(ctx, partitioned, time.Second)
	d.Inject(ctx, s, "unplanned-failover", fault.Params{"region": secondary})
	d.WaitPrimary(ctx, secondary, d.Bounds().Promotion)
	d.Hold(ctx, promoted, 3*time.Second)
	By("reading both regions before healing the partition")
	Expect(s.FinalRead(ctx)).To(Succeed())
	Expect(s.RollbackAll(ctx)).To(Succeed())
	res, err := s.Finish(ctx)
	Expect(err).NotTo(HaveOccurred())
	return primary, res
}

func partition() bool {
	return Describe("Partition", framework.ScenarioLabels("partition"), func() {
		It("fences the old primary: no zombie commit, divergence healed by re-seed", func(ctx SpecContext) {
			// The control plane reaches both regions (as AWS's regional one
			// may): the trigger's fence gets through the partition.
			primary, res := partitionThenFailover(ctx, "partition", "survives",
				"both regions up, replication cut, writes still acknowledged by the primary",
				"writes on the new primary while the old one is fenced")
			Expect(res.Divergent[primary]).To(BeNumerically(">", 0), "the partition should have left writes only the old primary has")
			By("checking the divergence was detected and the old primary re-seeded")
			ev, err := d.Target.Events(ctx, 0)
			Expect(err).NotTo(HaveOccurred())
			Expect(ev).To(ContainElement(And(HaveField("Kind", "diverged"), HaveField("Region", primary))))
			framework.Record("divergent_rows", res.Divergent[primary])
			d.Judge("partition", res)
		}, SpecTimeout(framework.ScenarioTimeout()))
	})
}

// partitionNoControlPath is the same partition when it takes the control
// path with it: the trigger cannot fence the old primary, whose pooled
// connections keep committing. It shows what the design allows then —
// zombie writes, and reads of them that vanish once the old primary is
// re-seeded — rather than holding it to the fenced variant's targets.
func partitionNoControlPath() bool {
	return Describe("Partition without a control path", framework.ScenarioLabels("partition-no-control-path"), func() {
		It("cannot fence the old primary: reports the zombie writes and the reads that vanish", func(ctx SpecContext) {
			primary, res := partitionThenFailover(ctx, "partition-no-control-path", "cut",
				"both regions up, replication and the control path cut",
				"the old primary unfenced, the new one promoted")
			ev, err := d.Target.Events(ctx, 0)
			Expect(err).NotTo(HaveOccurred())
			Expect(ev).To(ContainElement(And(HaveField("Kind", "fence-failed"), HaveField("Region", primary))),
				"the fence must not cross a partition that cut the control path")
			Expect(res.ZombiesJudged).To(BeTrue())
			Expect(res.ZombieCount).To(BeNumerically(">", 0), "an unfenced old primary whose clients still reach it takes writes: the finding this scenario exists to show")
			AddReportEntry("verdict", fmt.Sprintf("without a control path across the partition the old primary was not fenced: %d zombie writes, %d vanished reads, %d stale reads after promotion",
				res.ZombieCount, res.Reads.Vanished, res.Reads.StaleAfterPromotion))
			d.Judge("partition-no-control-path", res)
		}, SpecTimeout(framework.ScenarioTimeout()))
	})
}

func replicationLag() bool {
	return Describe("Replication lag", framework.ScenarioLabels("replication-lag"), func() {
		It("raises the lag alarm above 500 ms and clears it after the rollback", func(ctx SpecContext) {
			beginScenario(ctx, "replication-lag", "wan-degradation")
			alarm := d.Target.Outputs()["ReplicationLagAlarmName"]
			Expect(alarm).NotTo(BeEmpty(), "outputs lack ReplicationLagAlarmName")
			s := d.Begin(ctx, "replication-lag")
			d.HoldBeforeFault(ctx, "writes before the degradation", framework.PreFaultHold)
			h := d.Inject(ctx, s, "wan-degradation", fault.Params{"latency_ms": "700"})
			framework.Record("alarm_to_alarm_ms", d.WaitAlarm(ctx, alarm, "ALARM", 30*time.Second).Milliseconds())
			Expect(s.Rollback(ctx, h)).To(Succeed())
			framework.Record("alarm_to_ok_ms", d.WaitAlarm(ctx, alarm, "OK", 30*time.Second).Milliseconds())
			d.Hold(ctx, "writes after the rollback", 2*time.Second)
			Expect(s.FinalRead(ctx)).To(Succeed())
			res, err := s.Finish(ctx)
			Expect(err).NotTo(HaveOccurred())
			during := 0.0
			for _, phases := range res.Lag {
				during = max(during, phases["during"].Max)
			}
			framework.Record("lag_max_ms_during", during)
			Expect(during).To(BeNumerically(">", 500), "the degradation should push lag above 500 ms")
			d.Judge("replication-lag", res)
		}, SpecTimeout(framework.ScenarioTimeout()))
	})
}

func monitorFailure() bool {
	return Describe("Monitor failure", framework.ScenarioLabels("monitor-failure"), func() {
		It("reports that the stack would not have recovered on its own", func(ctx SpecContext) {
			// The primary's outage: a crash on the lab; on AWS, where a
			// region cannot be killed, its isolation. Both faults must exist
			// before anything starts: pausing a real Lambda only to skip
			// afterwards would leave a fault and a half-written history.
			outage := "region-crash"
			if f, _ := fault.Lookup(outage); f.Available(d.Target) != nil {
				outage = "region-isolation"
			}
			primary, _ := beginScenario(ctx, "monitor-failure", "monitor-failure", outage)
			s := d.Begin(ctx, "monitor-failure")
			d.HoldBeforeFault(ctx, "writes before the failure", framework.PreFaultHold)
			// The monitor the stack's failover logic decides on (on AWS the
			// secondary region's, whose probe of the primary the trigger reads).
			d.Inject(ctx, s, "monitor-failure", nil)
			down := d.Inject(ctx, s, outage, nil)
			d.Hold(ctx, "a primary outage with no health monitor, for as long as the stack takes to decide", d.Bounds().Detection)
			topo, err := d.Target.Topology(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(topo.Primary).To(Equal(primary), "an automatic failover happened although the monitor was down")
			framework.Record("recovered_automatically", false)
			AddReportEntry("verdict", "the stack would not have recovered on its own: no health monitor, no failover")
			By("restoring the primary region by hand")
			Expect(s.Rollback(ctx, down)).To(Succeed())
			d.Hold(ctx, "writes after the manual recovery", 3*time.Second)
			Expect(s.FinalRead(ctx)).To(Succeed())
			res, err := s.Finish(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(res.FailoverMs).To(BeNil(), "no promotion may happen while the monitor is down")
			d.Judge("monitor-failure", res)
		}, SpecTimeout(framework.ScenarioTimeout()))
	})
}

// regionIsolation is the region outage on AWS, where a region cannot be
// killed: its database subnets are cut off (clients and Lambdas, not
// Aurora's storage replication) and the secondary is promoted with data
// loss allowed. On the lab, region-crash plays this part.
func regionIsolation() bool {
	return Describe("Region isolation", framework.ScenarioLabels("region-isolation"), func() {
		It("cuts the primary region off and fails over with data loss allowed", func(ctx SpecContext) {
			primary, secondary := beginScenario(ctx, "region-isolation", "region-isolation", "unplanned-failover")
			s := d.Begin(ctx, "region-isolation")
			d.HoldBeforeFault(ctx, "writes before the isolation", 10*time.Second)
			isolation := d.Inject(ctx, s, "region-isolation", nil)
			failover := d.Inject(ctx, s, "unplanned-failover", fault.Params{"region": secondary})
			d.WaitPrimary(ctx, secondary, d.Bounds().Promotion)
			d.Hold(ctx, "writes on the new primary for the stability window", 30*time.Second)
			Expect(s.FinalRead(ctx)).To(Succeed())
			// Roll back in the order that is safe: heal the isolation, let
			// the stack's monitors see the region healthy (or the failover
			// trigger, still counting what it saw while the region was cut
			// off, fails over again), and only then switch back.
			By("healing the isolation before switching back")
			healed := time.Now()
			Expect(s.Rollback(ctx, isolation)).To(Succeed())
			d.WaitMonitorsHealthy(ctx, primary, healed)
			Expect(s.Rollback(ctx, failover)).To(Succeed())
			switchedBack := time.Now()
			d.WaitMonitorsHealthy(ctx, primary, switchedBack)
			topo, err := d.Target.Topology(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(topo.Primary).To(Equal(primary), "after the switch-back the stack failed over again: the trigger acted on failures from before the isolation was healed")
			res, err := s.Finish(ctx)
			Expect(err).NotTo(HaveOccurred())
			d.Judge("region-isolation", res)
		}, SpecTimeout(framework.ScenarioTimeout()))
	})
}

// alarmPath proves, on AWS, that the lag alarm's notification is delivered.
func alarmPath() bool {
	return Describe("Alarm path", framework.ScenarioLabels("alarm-path"), func() {
		It("delivers the replication-lag alarm's notification", func(ctx SpecContext) {
			beginScenario(ctx, "alarm-path", "alarm-path")
			s := d.Begin(ctx, "alarm-path")
			d.HoldBeforeFault(ctx, "writes before the alarm", framework.PreFaultHold)
			// Inject fails unless the notification reaches the queue in time.
			h := d.Inject(ctx, s, "alarm-path", fault.Params{"wait": "3m"})
			framework.Record("alarm_notification_delivered", true)
			Expect(s.Rollback(ctx, h)).To(Succeed())
			Expect(s.FinalRead(ctx)).To(Succeed())
			res, err := s.Finish(ctx)
			Expect(err).NotTo(HaveOccurred())
			d.Judge("alarm-path", res)
		}, SpecTimeout(15*time.Minute))
	})
}

func failback() bool {
	return Describe("Failback", framework.ScenarioLabels("failback"), func() {
		var primary, secondary string
		It("switches over to the secondary under load", func(ctx SpecContext) {
			primary, secondary = beginScenario(ctx, "failback", "planned-switchover")
			s := d.Begin(ctx, "failback")
			d.HoldBeforeFault(ctx, "writes before the switchover", framework.PreFaultHold)
			d.Inject(ctx, s, "planned-switchover", nil)
			d.WaitPrimary(ctx, secondary, d.Bounds().Promotion)
			d.Hold(ctx, "writes on "+secondary, 2*time.Second)
			By("failing back to " + primary)
			_, err := d.Target.Failback(ctx)
			Expect(err).NotTo(HaveOccurred())
			d.WaitPrimary(ctx, primary, d.Bounds().Promotion)
			d.Hold(ctx, "writes on "+primary+" again", 3*time.Second)
			s.StopTraffic(ctx)
			By("waiting until every region has caught up")
			framework.ExpectSteadyState(ctx, d.Target, d.Bounds().Restore)
			d.WaitCaughtUp(ctx, time.Minute)
			Expect(s.FinalRead(ctx)).To(Succeed())
			res, err := s.Finish(ctx)
			Expect(err).NotTo(HaveOccurred())
			By("checking every acknowledged write is in both regions")
			Expect(res.FinalPrimary).To(Equal(primary))
			Expect(res.RPO.LostWrites).To(BeZero())
			Expect(res.Missing[secondary]).To(BeZero(), "%s lacks rows the primary has", secondary)
			d.Judge("failback", res)
		}, SpecTimeout(framework.ScenarioTimeout()))
	})
}
