// Command drdrill-bench measures drdrill's performance targets and prints
// one line per figure, `drdrill-bench <name> <value> <unit>`, so figures can
// be compared across commits. Timing targets live here, not in unit tests.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/drdrill/drdrill/internal/check"
	"github.com/drdrill/drdrill/internal/heartbeat"
	"github.com/drdrill/drdrill/internal/history"
	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/link"
	"github.com/drdrill/drdrill/internal/monitor"
	"github.com/drdrill/drdrill/internal/refcheck"
	"github.com/drdrill/drdrill/internal/report"
	"github.com/drdrill/drdrill/internal/target"
	"github.com/drdrill/drdrill/internal/trigger"
	"github.com/drdrill/drdrill/internal/workload"
)

func figure(name string, value float64, unit string) {
	fmt.Printf("drdrill-bench %s %s %s\n", name, strconv.FormatFloat(value, 'f', -1, 64), unit)
}

// rssMB is a process's resident memory (VmRSS) in MB.
func rssMB(pid int) float64 {
	st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(st), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// onFail undoes, newest first, what a failing figure would otherwise leave
// behind (os.Exit runs no deferred call): a lab left up keeps two mariadbd
// and a supervisor running after the bench.
var onFail []func()

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "drdrill-bench: "+format+"\n", args...)
	for i := len(onFail) - 1; i >= 0; i-- {
		onFail[i]()
	}
	os.Exit(1)
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "checker-child" {
		checkerChild(os.Args[2])
		return
	}
	drdrill := flag.String("drdrill", "build/drdrill", "the drdrill binary (make build)")
	only := flag.String("only", "", "comma-separated groups to run: proxy, checker, lambda, report, lab, drill, twin (default all)")
	flag.Parse()
	want := func(g string) bool { return *only == "" || strings.Contains(","+*only+",", ","+g+",") }
	if want("proxy") {
		benchProxy()
	}
	if want("checker") {
		benchChecker()
		benchReferenceChecker()
	}
	if want("lambda") {
		benchLambdaInit()
	}
	if want("report") {
		benchReport()
	}
	if want("lab") {
		benchLab(*drdrill)
	}
	if want("drill") {
		benchDrill(*drdrill)
	}
	if want("twin") {
		benchTwin(*drdrill)
	}
}

// benchDrill runs the whole lab catalogue once and reports its wall time
// against the deliberate fault windows, and the RPO resolution achieved.
func benchDrill(drdrill string) {
	reports, err := os.MkdirTemp("", "drdrill-bench-drill-")
	if err != nil {
		fail("%v", err)
	}
	defer os.RemoveAll(reports)
	start := time.Now()
	out, err := exec.Command(drdrill, "drill", "--reports", reports).CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		fail("drill: %v\n%s", err, out)
	}
	runs, _ := filepath.Glob(filepath.Join(reports, "*", report.JSONFile))
	if len(runs) != 1 {
		fail("drill wrote %d reports", len(runs))
	}
	r, err := report.Load(runs[0])
	if err != nil {
		fail("%v", err)
	}
	acc := report.Account(r)
	worstRes := 0.0
	for _, sc := range r.Scenarios {
		if sc.Result != nil && sc.Result.RPO.LostWrites > 0 {
			worstRes = max(worstRes, sc.Result.RPO.ResolutionMs)
		}
	}
	figure("drill_wall_s", math.Round(wall.Seconds()*10)/10, "s")
	figure("drill_fault_windows_s", math.Round(acc.Faults.Seconds()*10)/10, "s")
	figure("drill_deliberate_windows_s", math.Round(acc.Deliberate.Seconds()*10)/10, "s")
	figure("drill_wall_over_fault_windows", math.Round(wall.Seconds()/acc.Faults.Seconds()*100)/100, "x")
	figure("drill_wall_over_deliberate_windows", math.Round(wall.Seconds()/acc.Deliberate.Seconds()*100)/100, "x")
	figure("drill_rpo_resolution_worst_ms", math.Round(worstRes*10)/10, "ms")
}

// benchProxy: p50 round trip through a fault-free link minus direct.
func benchProxy() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("%v", err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(c, c)
		}
	}()
	l, err := link.Listen("bench", "127.0.0.1:0", ln.Addr().String())
	if err != nil {
		fail("%v", err)
	}
	defer l.Close()
	rtt := func(addr string) time.Duration {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			fail("%v", err)
		}
		defer c.Close()
		buf := make([]byte, 64)
		var d []time.Duration
		for i := 0; i < 3000; i++ {
			start := time.Now()
			c.Write(buf)
			io.ReadFull(c, buf)
			if i >= 200 { // warm-up
				d = append(d, time.Since(start))
			}
		}
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	direct, proxied := rtt(ln.Addr().String()), rtt(l.Addr())
	figure("proxy_overhead_p50_us", float64((proxied - direct).Microseconds()), "us")
}

// generateHistory writes the 1,000,000-operation synthetic history.
func generateHistory(path string) {
	if err := history.WriteSynthetic(path, 4, 250_000); err != nil {
		fail("%v", err)
	}
}

func checkerChild(path string) {
	start := time.Now()
	h, err := history.ReadFile(path)
	if err != nil {
		fail("%v", err)
	}
	r := check.Check(h, check.Config{})
	fmt.Println(time.Since(start).Nanoseconds(), r.Ops.Total)
}

// benchChecker reads and checks the generated history in a child process
// so that its peak RSS is the checker's own.
func benchChecker() {
	dir, err := os.MkdirTemp("", "drdrill-bench-")
	if err != nil {
		fail("%v", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "history.jsonl")
	generateHistory(path)
	self, _ := os.Executable()
	cmd := exec.Command(self, "checker-child", path)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		fail("checker child: %v", err)
	}
	var ns, ops int64
	fmt.Sscan(string(out), &ns, &ops)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	figure("checker_ops_per_s", float64(int64(float64(ops)/(float64(ns)/1e9))), "ops/s")
	figure("checker_1m_ops_ms", float64(ns/1e6), "ms")
	figure("checker_peak_rss_mb", float64(ru.Maxrss/1024), "MB")
}

// benchReferenceChecker times the reference checker (internal/refcheck,
// deliberately simple and slow) on a 100,000-operation synthetic history,
// reading included, so that the differential tests' cost is known.
func benchReferenceChecker() {
	dir, err := os.MkdirTemp("", "drdrill-bench-")
	if err != nil {
		fail("%v", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "history.jsonl")
	if err := history.WriteSynthetic(path, 4, 25_000); err != nil {
		fail("%v", err)
	}
	start := time.Now()
	h, err := history.ReadFile(path)
	if err != nil {
		fail("%v", err)
	}
	f := refcheck.Check(h, 0)
	if f["rpo_lost_writes"].Value != 120 {
		fail("reference checker: %+v lost writes on the synthetic history, want 120", f["rpo_lost_writes"])
	}
	figure("reference_checker_100k_ops_ms", float64(time.Since(start).Milliseconds()), "ms")
}

// benchLambdaInit times each function's cold-start path (configuration and
// SDK clients; no network), the best of 20.
func benchLambdaInit() {
	env := map[string]string{"AWS_REGION": "us-west-2", "DRDRILL_PEER_REGION": "us-east-1",
		"DRDRILL_CLUSTER_ID": "c", "DRDRILL_CLUSTER_ENDPOINT": "c:3306", "DRDRILL_GLOBAL_CLUSTER_ID": "g",
		"DRDRILL_SECRET_ARN": "arn:aws:secretsmanager:us-west-2:1:secret:s", "DRDRILL_CLUSTER_ARNS": "arn:aws:rds:us-east-1:1:cluster:p,arn:aws:rds:us-west-2:1:cluster:c",
		"DRDRILL_SNS_TOPIC_ARN": "arn:aws:sns:us-west-2:1:t"}
	os.Setenv("AWS_ACCESS_KEY_ID", "AKIDBENCH")
	os.Setenv("AWS_SECRET_ACCESS_KEY", "bench")
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	get := func(k string) string { return env[k] }
	for _, fn := range []struct {
		name string
		init func() error
	}{
		{"lambda_healthmonitor_init_ms", func() error { _, err := monitor.NewFromEnv(context.Background(), get, nil); return err }},
		{"lambda_failovertrigger_init_ms", func() error { _, err := trigger.NewFromEnv(context.Background(), get, nil); return err }},
	} {
		best := time.Hour
		for i := 0; i < 20; i++ {
			start := time.Now()
			if err := fn.init(); err != nil {
				fail("%s: %v", fn.name, err)
			}
			best = min(best, time.Since(start))
		}
		figure(fn.name, float64(best.Microseconds())/1000, "ms")
	}
}

// benchReport renders a run holding the generated 1M-operation history.
func benchReport() {
	dir, err := os.MkdirTemp("", "drdrill-bench-report-")
	if err != nil {
		fail("%v", err)
	}
	defer os.RemoveAll(dir)
	run := filepath.Join(dir, "reports", "bench-run")
	if err := os.MkdirAll(filepath.Join(run, "region-outage"), 0o755); err != nil {
		fail("%v", err)
	}
	generateHistory(filepath.Join(run, "region-outage", "history.jsonl"))
	start := time.Now()
	r, err := report.Build(run, nil)
	if err != nil {
		fail("%v", err)
	}
	if err := report.Render(run, r); err != nil {
		fail("%v", err)
	}
	took := time.Since(start)
	st, err := os.Stat(filepath.Join(run, report.HTMLFile))
	if err != nil {
		fail("%v", err)
	}
	figure("report_render_ms", float64(took.Milliseconds()), "ms")
	figure("report_html_kb", float64(st.Size()/1024), "KB")
}

func median(v []time.Duration) time.Duration {
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	return v[len(v)/2]
}

func benchLab(drdrill string) {
	if _, err := os.Stat(drdrill); err != nil {
		fail("%s not found: run `make build` first", drdrill)
	}
	base, err := os.MkdirTemp("", "drdrill-bench-lab-")
	if err != nil {
		fail("%v", err)
	}
	defer os.RemoveAll(base)
	// lab_up_ms: from starting the command to both regions replicating,
	// template cached (the first run caches it and is not counted).
	var ups []time.Duration
	for i := 0; i < 4; i++ {
		dir := filepath.Join(base, fmt.Sprintf("up-%d", i))
		start := time.Now()
		if out, err := exec.Command(drdrill, "lab", "up", "--dir", dir).CombinedOutput(); err != nil {
			fail("lab up: %v\n%s", err, out)
		}
		if i > 0 {
			ups = append(ups, time.Since(start))
		}
		if out, err := exec.Command(drdrill, "lab", "down", "--dir", dir).CombinedOutput(); err != nil {
			fail("lab down: %v\n%s", err, out)
		}
	}
	figure("lab_up_ms", float64(median(ups).Milliseconds()), "ms")

	dir := filepath.Join(base, "lab")
	if out, err := exec.Command(drdrill, "lab", "up", "--dir", dir).CombinedOutput(); err != nil {
		fail("lab up: %v\n%s", err, out)
	}
	down := func() { _ = exec.Command(drdrill, "lab", "down", "--dir", dir).Run() }
	onFail = append(onFail, down)
	defer down()
	t, err := target.Open(filepath.Join(dir, lab.OutputsFile))
	if err != nil {
		fail("%v", err)
	}
	lagAndRSS(t, dir)
	maxRate(t, dir)
	benchReseed(t)
}

// lagAndRSS runs 200 writes/s for 10 s over the 35 ms link.
func lagAndRSS(t target.Target, dir string) {
	rec, err := history.Create(filepath.Join(dir, "bench-lag.jsonl"), history.Meta{Run: "bench", RateHz: 200, Writers: 4})
	if err != nil {
		fail("%v", err)
	}
	writer, _ := t.Writer()
	hbw, _ := t.Writer()
	readers := map[string]*sql.DB{}
	for _, r := range t.Regions() {
		readers[r], _ = t.Reader(r)
	}
	hb, err := heartbeat.Start(context.Background(), hbw, readers, rec, heartbeat.Config{})
	if err != nil {
		fail("heartbeat: %v", err)
	}
	wl := workload.Start(writer, rec, workload.Config{Rate: 200, Writers: 4})
	time.Sleep(5 * time.Second)
	rss := 0.0
	info, _ := lab.ReadInfo(dir)
	for _, region := range t.Regions() {
		b, _ := os.ReadFile(filepath.Join(info.RunDir, region, "mariadbd.pid"))
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		rss += rssMB(pid)
	}
	time.Sleep(5 * time.Second)
	wl.Stop()
	hb.Stop()
	rec.Close()
	h, err := history.ReadFile(filepath.Join(dir, "bench-lag.jsonl"))
	if err != nil {
		fail("%v", err)
	}
	var lag []float64
	for _, s := range h.Lag {
		if s.Region == t.Regions()[1] {
			lag = append(lag, s.Ms)
		}
	}
	p := check.PercentilesOf(lag)
	figure("lab_rss_mb", float64(int(rss)), "MB")
	figure("replication_lag_p50_ms", float64(int(p.P50*10))/10, "ms")
	figure("replication_lag_p99_ms", float64(int(p.P99*10))/10, "ms")
	figure("workload_200_acked_per_s", float64(int(wl.Stats().AckedPerSec())), "writes/s")
}

// maxRate asks for far more than the lab can take and counts acknowledgements.
func maxRate(t target.Target, dir string) {
	rec, err := history.Create(filepath.Join(dir, "bench-rate.jsonl"), history.Meta{Run: "bench", RateHz: 4000, Writers: 16})
	if err != nil {
		fail("%v", err)
	}
	writer, _ := t.Writer()
	wl := workload.Start(writer, rec, workload.Config{Rate: 4000, Writers: 16, MaxInFlight: 32})
	time.Sleep(5 * time.Second)
	st := wl.Stop()
	rec.Close()
	figure("canary_max_acked_writes_per_s", float64(int(st.AckedPerSec())), "writes/s")
}
