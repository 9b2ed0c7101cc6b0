package twin_test

import (
	"context"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/twin"
	"github.com/drdrill/drdrill/internal/twintest"
	"github.com/drdrill/drdrill/internal/workload"
)

// switchoverRun is what a client writing through the global writer
// endpoint saw of one switchover.
type switchoverRun struct {
	start     time.Time // SwitchoverGlobalCluster returned
	readOnly  time.Time // the first write refused as read-only
	recovered time.Time // the first write that succeeded after the last failure
	moved     time.Time // DescribeGlobalClusters showed the writer moved, the state clear
	refused   int       // writes refused as read-only
}

// switchover switches the global cluster over to the cluster in region
// while a client writes through the global writer endpoint, a new
// connection per write (a client that drops a read-only connection, as
// drdrill's workload does, reconnects through the endpoint).
func switchover(t *testing.T, tw *twintest.Twin, region, arn string, seq *int64) switchoverRun {
	t.Helper()
	ctx := context.Background()
	out := tw.Target.Outputs()
	db, err := tw.Target.Writer()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxIdleConns(0)
	type write struct {
		at       time.Time
		ok, read bool
	}
	writes := make(chan []write, 1)
	stop := make(chan struct{})
	go func() {
		var ws []write
		defer func() { writes <- ws }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			*seq++
			wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			_, err := db.ExecContext(wctx, workload.Insert, 9999, *seq, time.Now().UnixNano())
			cancel()
			ws = append(ws, write{at: time.Now(), ok: err == nil, read: workload.IsReadOnly(err)})
			time.Sleep(5 * time.Millisecond)
		}
	}()
	time.Sleep(300 * time.Millisecond) // writes before
	c := rds.NewFromConfig(tw.SDKConfig(t, region))
	gid := awssdk.String(out[outputs.GlobalClusterIdentifier])
	if _, err := c.SwitchoverGlobalCluster(ctx, &rds.SwitchoverGlobalClusterInput{GlobalClusterIdentifier: gid, TargetDbClusterIdentifier: awssdk.String(arn)}); err != nil {
		close(stop)
		t.Fatal(err)
	}
	r := switchoverRun{start: time.Now()}
	for deadline := time.Now().Add(time.Minute); r.moved.IsZero(); time.Sleep(10 * time.Millisecond) {
		g, err := c.DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: gid})
		if err == nil && g.GlobalClusters[0].FailoverState == nil {
			for _, m := range g.GlobalClusters[0].GlobalClusterMembers {
				if awssdk.ToBool(m.IsWriter) && awssdk.ToString(m.DBClusterArn) == arn {
					r.moved = time.Now()
				}
			}
		}
		if time.Now().After(deadline) {
			close(stop)
			t.Fatalf("the switchover to %s did not complete", region)
		}
	}
	time.Sleep(tw.Server.CheckPeriod()/12 + 500*time.Millisecond) // the DNS TTL (a twelfth of the scaled minute) and more
	close(stop)
	lastFail := time.Time{}
	for _, w := range <-writes {
		if w.at.Before(r.start) {
			continue
		}
		if w.read {
			r.refused++
			if r.readOnly.IsZero() {
				r.readOnly = w.at
			}
		}
		if !w.ok {
			lastFail = w.at
		}
	}
	if r.readOnly.IsZero() {
		t.Fatalf("no write through the global writer endpoint was refused as read-only during the switchover to %s", region)
	}
	r.recovered = lastFail
	return r
}

// #22 item 3: a switchover in phases, as AWS documents it. It first
// synchronises the secondary while the primary still takes writes (as
// long as the lag: with a second of replication latency the read-only
// moment comes a second later), then makes the primary read-only — writes
// fail from there — promotes the secondary (PromotionTime) and moves the
// global writer endpoint, whose clients keep the old address for the DNS
// TTL: writes fail until then, not only until the writer moved. Before,
// the twin kept the old primary writable for the whole promotion time and
// flipped at once: writes failed for a few milliseconds, whatever the lag.
func TestSwitchoverPhasesOnTheTwin(t *testing.T) {
	const scale = 0.01
	tw := twintest.Start(t, scale)
	out := tw.Target.Outputs()
	primary, secondary := out[outputs.PrimaryRegion], out[outputs.SecondaryRegion]
	scaled := func(d time.Duration) time.Duration { return time.Duration(float64(d) * scale) }
	var seq int64

	first := switchover(t, tw, secondary, out["SecondaryClusterArn"], &seq)
	outage := first.recovered.Sub(first.readOnly)
	t.Logf("to %s: read-only %v after the call, writer moved %v later, writes failed for %v (%d refused as read-only)",
		secondary, first.readOnly.Sub(first.start).Round(time.Millisecond), first.moved.Sub(first.readOnly).Round(time.Millisecond), outage.Round(time.Millisecond), first.refused)
	if want := twin.PromotionTimeScaled(scale) + scaled(twin.DNSTTL); outage < want-100*time.Millisecond {
		t.Fatalf("writes through the global writer endpoint failed for %v during the switchover, want at least the promotion from read-only to the writer's move and the DNS TTL (%v)", outage, want)
	}
	if flip := first.moved.Add(scaled(twin.DNSTTL)); first.recovered.Before(flip.Add(-50 * time.Millisecond)) {
		t.Fatalf("writes succeeded again %v after the writer moved, before the global writer's DNS record expired (%v)", first.recovered.Sub(first.moved), scaled(twin.DNSTTL))
	}

	// The same switchover back, with a second of latency on the
	// replication into the target: synchronising takes that much longer.
	ctx := context.Background()
	link := "repl-" + primary
	st, err := tw.Lab.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var before float64
	for _, l := range st.Links {
		if l.Name == link {
			before = float64(l.Latency) / float64(time.Millisecond)
		}
	}
	slow := before + 1000
	if err := tw.Lab.SetLink(ctx, link, lab.LinkFaults{LatencyMs: &slow}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tw.Lab.SetLink(context.Background(), link, lab.LinkFaults{LatencyMs: &before}) })
	time.Sleep(time.Second) // the lag builds up
	second := switchover(t, tw, primary, out["PrimaryClusterArn"], &seq)
	d1, d2 := first.readOnly.Sub(first.start), second.readOnly.Sub(second.start)
	t.Logf("to %s with 1 s more replication latency: read-only %v after the call (was %v)", primary, d2.Round(time.Millisecond), d1.Round(time.Millisecond))
	if d2-d1 < 800*time.Millisecond {
		t.Fatalf("with a second more lag the primary went read-only %v after the call, against %v without: the synchronisation does not grow with the lag", d2, d1)
	}
}
