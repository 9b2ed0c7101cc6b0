package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/report"
)

// These tests drive the real binaries: drdrill itself and the compiled drill
// suite, against real labs, as a user or a CI job would.

// e2eDir holds the binaries and whatever else the tests build once per
// test binary (the runner image); TestMain removes it at the end.
var bin, suiteBin, e2eDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "drdrill-e2e-")
	if err != nil {
		panic(err)
	}
	e2eDir = dir
	bin = filepath.Join(dir, "drdrill")
	suiteBin = filepath.Join(dir, "drill.test")
	// The layout `make build` makes: drdrill, ginkgo and the compiled suite
	// side by side.
	for _, args := range [][]string{{"build", "-o", bin, "."}, {"test", "-c", "-o", suiteBin, "../../suites/drill"},
		{"build", "-o", filepath.Join(dir, "ginkgo"), "github.com/onsi/ginkgo/v2/ginkgo"},
		// The Lambda handlers the twin runs, where `make build` puts them.
		{"build", "-tags", "lambda.norpc", "-o", filepath.Join(dir, "lambda-host", "healthmonitor"), "../../lambda/healthmonitor"},
		{"build", "-tags", "lambda.norpc", "-o", filepath.Join(dir, "lambda-host", "failovertrigger"), "../../lambda/failovertrigger"}} {
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			os.Stderr.Write(out)
			panic(err)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needMariaDB(t *testing.T) {
	if _, err := lab.FindBinaries(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

type result struct {
	out  string
	code int
}

func run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{b.String(), code}
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	r := run(t, nil, args...)
	if r.code != 0 {
		t.Fatalf("drdrill %s: exit %d\n%s", strings.Join(args, " "), r.code, r.out)
	}
	return r.out
}

// labProcesses lists live processes whose command line mentions marker.
func labProcesses(marker string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte(marker)) {
			continue
		}
		st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := bytes.LastIndexByte(st, ')'); i > 0 && bytes.HasPrefix(bytes.TrimSpace(st[i+1:]), []byte("Z")) {
			continue // exited, waiting to be reaped
		}
		out = append(out, e.Name()+" "+string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
	}
	return out
}

func startLabE2E(t *testing.T) (string, lab.Info) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "lab")
	mustRun(t, "lab", "up", "--dir", dir)
	t.Cleanup(func() { run(t, nil, "lab", "down", "--dir", dir) })
	info, err := lab.ReadInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, info
}

func TestLabLifecycleAndBadInputs(t *testing.T) {
	needMariaDB(t)
	dir, info := startLabE2E(t)
	if out := mustRun(t, "lab", "status", "--dir", dir); !strings.Contains(out, "us-east-1  primary") || !strings.Contains(out, "us-west-2  secondary") {
		t.Fatalf("status:\n%s", out)
	}
	if r := run(t, nil, "lab", "up", "--dir", dir); r.code == 0 || !strings.Contains(r.out, "already running") {
		t.Fatalf("second lab up: exit %d\n%s", r.code, r.out)
	}
	// SIGKILL the supervisor: its servers die with it (parent-death signal),
	// and lab down cleans whatever is left.
	if err := syscall.Kill(info.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if r := run(t, nil, "lab", "status", "--dir", dir); r.code == 0 || !strings.Contains(r.out, "not answering") {
		t.Fatalf("status of a dead lab: exit %d\n%s", r.code, r.out)
	}
	mustRun(t, "lab", "down", "--dir", dir)
	if left := labProcesses(info.RunDir); len(left) > 0 {
		t.Fatalf("processes left after kill -9 and lab down: %v", left)
	}
	if left := labProcesses("--dir " + dir); len(left) > 0 {
		t.Fatalf("supervisor left: %v", left)
	}
	if out := mustRun(t, "lab", "down", "--dir", dir); !strings.Contains(out, "no lab running") {
		t.Fatalf("second lab down:\n%s", out)
	}
	// A stale directory (pidfile of a dead process) is cleaned, not refused.
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "supervisor.pid"), []byte("999999\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "lab.json"), []byte(`{"pid":999999,"run_dir":"/nonexistent"}`), 0o644)
	if out := mustRun(t, "lab", "up", "--dir", dir); !strings.Contains(out, "lab up in") {
		t.Fatalf("lab up on a stale dir:\n%s", out)
	}
	mustRun(t, "lab", "down", "--dir", dir)
}

func TestClearErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "none")
	cases := []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"lab", "status", "--dir", dir}, "no lab in"},
		{nil, []string{"recover", "--dir", dir}, "does not exist"},
		{[]string{"DRDRILL_MARIADBD=/nonexistent/mariadbd"}, []string{"lab", "run", "--dir", dir}, "DRDRILL_MARIADBD=/nonexistent/mariadbd is not an executable"},
		{nil, []string{"fault", "inject", "--dir", dir}, "which fault?"},
		{nil, []string{"lab", "up", "--dir", dir, "--failure-threshold", "0"}, "--failure-threshold >= 1"},
		{nil, []string{"nonsense"}, "unknown command"},
	}
	for _, c := range cases {
		r := run(t, c.env, c.args...)
		if r.code == 0 || !strings.Contains(r.out, c.want) || strings.Contains(r.out, "panic") {
			t.Errorf("drdrill %s: exit %d, output %q; want a clear error containing %q", strings.Join(c.args, " "), r.code, r.out, c.want)
		}
	}
}

// kill -9 of the suite process while two faults are injected, then
// `drdrill recover`: no fault left, a healthy topology, and recover is
// idempotent.
func TestRecoverAfterKillDashNineMidFault(t *testing.T) {
	needMariaDB(t)
	dir, _ := startLabE2E(t)
	cmd := exec.Command(suiteBin, "--ginkgo.label-filter=hold-faults", "--ginkgo.v")
	cmd.Env = append(os.Environ(), "DRDRILL_OUTPUTS="+filepath.Join(dir, lab.OutputsFile),
		"DRDRILL_RUN_DIR="+t.TempDir(), "DRDRILL_HOLD_FAULTS=partition,region-crash")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l := ledger.Open(dir)
	deadline := time.Now().Add(60 * time.Second)
	for {
		active, _ := l.Active()
		injected := 0
		for _, e := range active {
			if e.State == ledger.Injected {
				injected++
			}
		}
		if injected == 2 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("faults not injected within 60s:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if status := run(t, nil, "lab", "status", "--dir", dir); status.code == 0 {
		t.Fatalf("lab healthy while faults are held?\n%s", status.out)
	}
	rec := mustRun(t, "recover", "--dir", dir)
	if !strings.Contains(rec, "rolled back region-crash") || !strings.Contains(rec, "rolled back partition") || !strings.Contains(rec, "healthy true") {
		t.Fatalf("recover:\n%s", rec)
	}
	if active, err := l.Active(); err != nil || len(active) != 0 {
		t.Fatalf("ledger still shows %v (%v)", active, err)
	}
	mustRun(t, "lab", "status", "--dir", dir) // exit 0 means healthy
	if again := mustRun(t, "recover", "--dir", dir); !strings.Contains(again, "nothing to recover") {
		t.Fatalf("second recover:\n%s", again)
	}
}

// `drdrill verdict` is the sign-off gate: exit 0 on a passing policy, 1 on
// a failing one, naming each failing check; `drdrill report` re-renders.
func TestVerdictGatesAndReportRerenders(t *testing.T) {
	reports := t.TempDir()
	runDir := filepath.Join(reports, "20261129T102824Z")
	if err := os.CopyFS(runDir, os.DirFS("../../internal/report/testdata/run/20261129T102824Z")); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, "verdict", runDir); !strings.Contains(out, "verdict: PASS") {
		t.Fatalf("default policy:\n%s", out)
	}
	strict := filepath.Join(t.TempDir(), "strict.yaml")
	os.WriteFile(strict, []byte("version: 1\nscenarios:\n  region-outage:\n    rpo_lost_writes: 0\n    rto_ms: 100\n"), 0o644)
	r := run(t, nil, "verdict", "--policy", strict, runDir)
	if r.code != 1 || !strings.Contains(r.out, "FAIL region-outage rpo_lost_writes: measured 6 writes") || !strings.Contains(r.out, "FAIL region-outage rto_ms") {
		t.Fatalf("strict policy: exit %d\n%s", r.code, r.out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nscenarios:\n  region-outage:\n    rto: 1\n"), 0o644)
	if r := run(t, nil, "verdict", "--policy", bad, runDir); r.code == 0 || !strings.Contains(r.out, `unknown measure "rto"`) {
		t.Fatalf("bad policy: exit %d\n%s", r.code, r.out)
	}
	out := mustRun(t, "report", runDir)
	for _, f := range []string{"report.json", "summary.md", "index.html"} {
		if _, err := os.Stat(filepath.Join(runDir, f)); err != nil {
			t.Fatalf("report did not write %s:\n%s", f, out)
		}
	}
	if _, err := os.Stat(filepath.Join(reports, "index.html")); err != nil {
		t.Fatal("no reports/index.html")
	}
	if r := run(t, nil, "report", filepath.Join(reports, "nonexistent")); r.code == 0 || !strings.Contains(r.out, "does not exist") {
		t.Fatalf("report of a missing run: exit %d\n%s", r.code, r.out)
	}
}

// Against AWS, the guards refuse by default: with no allow-listed account,
// preflight and fault injection exit non-zero naming DRDRILL_ALLOWED_ACCOUNTS.
// The SDK is pointed at a closed local port, so no request leaves the machine.
func TestAWSGuardsRefuseByDefault(t *testing.T) {
	out := map[string]string{"TargetKind": "aws", "GlobalClusterIdentifier": "g", "PrimaryRegion": "us-east-1", "SecondaryRegion": "us-west-2",
		"PrimaryClusterArn": "arn:aws:rds:us-east-1:1:cluster:p", "SecondaryClusterArn": "arn:aws:rds:us-west-2:1:cluster:s", "GlobalWriterEndpoint": "g.example",
		"PrimaryClusterEndpoint": "p.example", "SecondaryClusterEndpoint": "s.example", "DatabaseSecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:db",
		"PrimaryReaderEndpoint": "p-ro.example", "SecondaryReaderEndpoint": "s-ro.example",
		"PrimaryDatabaseSubnetIds": `["subnet-a"]`, "SecondaryDatabaseSubnetIds": `["subnet-x"]`, "PrimaryDatabaseNetworkAclId": "acl-1", "SecondaryDatabaseNetworkAclId": "acl-2",
		"PrimaryHealthMonitorFunctionName": "m1", "SecondaryHealthMonitorFunctionName": "m2", "FailoverTriggerFunctionName": "tr",
		"PrimaryHealthCheckId": "h1", "SecondaryHealthCheckId": "h2", "ReplicationLagAlarmName": "lag", "PrimarySNSTopicArn": "t1", "SecondarySNSTopicArn": "t2"}
	dir := t.TempDir()
	file := filepath.Join(dir, "flat-outputs.json")
	b, _ := json.Marshal(out)
	os.WriteFile(file, b, 0o600)
	env := []string{"AWS_ENDPOINT_URL=http://127.0.0.1:9", "AWS_MAX_ATTEMPTS=1", "AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_EC2_METADATA_DISABLED=true", "DRDRILL_ALLOWED_ACCOUNTS="}
	if r := run(t, env, "aws", "preflight", "--outputs", file); r.code == 0 || !strings.Contains(r.out, "DRDRILL_ALLOWED_ACCOUNTS") {
		t.Fatalf("preflight: exit %d\n%s", r.code, r.out)
	}
	for _, fault := range []string{"unplanned-failover", "region-isolation", "monitor-failure"} {
		r := run(t, env, "fault", "inject", fault, "--outputs", file)
		if r.code == 0 || !strings.Contains(r.out, "DRDRILL_ALLOWED_ACCOUNTS") {
			t.Fatalf("%s: exit %d\n%s", fault, r.code, r.out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "fault-ledger.jsonl")); err == nil {
		t.Fatal("a refused fault reached the ledger")
	}
	delete(out, "PrimaryHealthCheckId")
	b, _ = json.Marshal(out)
	os.WriteFile(file, b, 0o600)
	if r := run(t, env, "aws", "preflight", "--outputs", file); r.code == 0 || !strings.Contains(r.out, "PrimaryHealthCheckId") {
		t.Fatalf("incomplete outputs: exit %d\n%s", r.code, r.out)
	}
	os.WriteFile(file, []byte(`{"TargetKind": "aws",`), 0o600)
	if r := run(t, env, "aws", "preflight", "--outputs", file); r.code == 0 || !strings.Contains(r.out, "not valid JSON") {
		t.Fatalf("malformed outputs: exit %d\n%s", r.code, r.out)
	}
}

// A scheduler stops a drill with SIGTERM to drdrill alone (no terminal
// signals the whole group). The suites must be interrupted — their
// cleanups roll the fault back — and no further iteration may start.
func TestSIGTERMToDrdrillStopsTheDrill(t *testing.T) {
	needMariaDB(t)
	reports := t.TempDir()
	cmd := exec.Command(bin, "drill", "--labels", "partition", "--repeat", "3", "--reports", reports)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	var labDir string
	for {
		if dirs, _ := filepath.Glob(filepath.Join(reports, "*", "lab")); len(dirs) == 1 {
			labDir = dirs[0]
			active, _ := ledger.Open(labDir).Active()
			if len(active) > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no fault injected within 90 s:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("drdrill still running 60 s after SIGTERM:\n%s", out.String())
	}
	o := out.String()
	if cmd.ProcessState.ExitCode() == 0 || !strings.Contains(o, "[phase] interrupted") || strings.Contains(o, "iteration 2 of 3") {
		t.Fatalf("exit %d; want a failed, interrupted drill that started no second iteration:\n%s", cmd.ProcessState.ExitCode(), o)
	}
	if active, err := ledger.Open(labDir).Active(); err != nil || len(active) != 0 {
		t.Fatalf("faults left active after SIGTERM: %v (%v)", active, err)
	}
	if left := labProcesses(labDir); len(left) > 0 {
		t.Fatalf("processes left after SIGTERM: %v", left)
	}
}

// twinEnv reads the environment `drdrill twin up` writes to DIR/twin.env.
func twinEnv(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "twin.env"))
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		env = append(env, strings.TrimPrefix(line, "export "))
	}
	return env
}

// startTwinCLI runs `drdrill twin up` over infra/aws at a time scale in a
// temporary directory, taken down when the test ends, and returns the
// directory.
func startTwinCLI(t *testing.T, timeScale string) string {
	t.Helper()
	needMariaDB(t)
	dir := filepath.Join(t.TempDir(), "twin")
	mustRun(t, "twin", "up", "--dir", dir, "--stack", "../../infra/aws", "--time-scale", timeScale)
	t.Cleanup(func() { run(t, nil, "twin", "down", "--dir", dir) })
	return dir
}

// The AWS path end to end on the twin, through the CLI a user runs:
// `twin up`, the unchanged AWS target drilling a planned switchover, and
// (#12 item 4) the lab-only scenarios skipping before they start traffic —
// a scenario that started writing and then skipped left a history without
// a final read, which failed the run's verdict. `twin down` leaves nothing.
func TestTwinDrillThroughTheCLI(t *testing.T) {
	dir := startTwinCLI(t, "0.02")
	if out := mustRun(t, "twin", "status", "--dir", dir); !strings.Contains(out, "primary us-east-1, healthy true") {
		t.Fatalf("twin status:\n%s", out)
	}
	env := twinEnv(t, dir)
	reports := t.TempDir()
	// 200 writes/s: this test is about the AWS path, not the RPO
	// resolution, and runs beside other packages' tests in `go test ./...`.
	r := run(t, env, "drill", "--outputs", filepath.Join(dir, "flat-outputs.json"), "--reports", reports, "--rate", "200",
		"--labels", "planned-switchover || region-outage || replication-lag")
	if r.code != 0 || !strings.Contains(r.out, "verdict: PASS") {
		t.Fatalf("twin drill: exit %d\n%s", r.code, r.out)
	}
	for _, labOnly := range []string{"region-outage", "replication-lag"} {
		if h, _ := filepath.Glob(filepath.Join(reports, "*", labOnly)); len(h) > 0 {
			t.Errorf("%s is lab-only, yet it left %v on the AWS target: it started before skipping", labOnly, h)
		}
	}
	if h, _ := filepath.Glob(filepath.Join(reports, "*", "planned-switchover", "history.jsonl")); len(h) != 1 {
		t.Fatalf("no planned-switchover history on the twin:\n%s", r.out)
	}
	// #12 item 13: the promotion is timed on AWS too, from the global
	// cluster's transitions, so RTO splits into the promotion and the rest.
	runs, _ := filepath.Glob(filepath.Join(reports, "*", report.JSONFile))
	if len(runs) != 1 {
		t.Fatalf("%d report.json files", len(runs))
	}
	rep, err := report.Load(runs[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range rep.Scenarios {
		if sc.Name == "planned-switchover" && (sc.Result == nil || sc.Result.FailoverMs == nil) {
			t.Fatalf("planned-switchover on the twin has no promotion time: the AWS target reported no promote event")
		}
	}
	mustRun(t, "twin", "down", "--dir", dir)
	if left := labProcesses(filepath.Join(dir, "lab")); len(left) > 0 {
		t.Fatalf("processes left after twin down: %v", left)
	}
}

// #11: a kill -9 of the harness in the middle of an AWS fault — while the
// twin's global cluster is still switching over — and then `drdrill
// recover --outputs` leaves no fault and the writer back in the primary
// region, as the twin itself (not the ledger) reports it.
func TestRecoverAfterKillDashNineMidSwitchoverOnTheTwin(t *testing.T) {
	dir := startTwinCLI(t, "0.05") // a promotion takes 7.5 s
	env := twinEnv(t, dir)
	outputsFile := filepath.Join(dir, "flat-outputs.json")
	cmd := exec.Command(suiteBin, "--ginkgo.label-filter=hold-faults", "--ginkgo.v")
	cmd.Env = append(append(os.Environ(), env...), "DRDRILL_OUTPUTS="+outputsFile, "DRDRILL_RUN_DIR="+t.TempDir(), "DRDRILL_HOLD_FAULTS=planned-switchover")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	status := func() string { return run(t, env, "twin", "status", "--dir", dir).out }
	l := ledger.Open(dir)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		active, _ := l.Active()
		if len(active) == 1 && active[0].State == ledger.Injecting {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no injection under way within 60 s:\n%s", out.String())
		}
	}
	time.Sleep(time.Second) // well inside the 7.5 s promotion
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	rec := run(t, env, "recover", "--outputs", outputsFile)
	if rec.code != 0 || !strings.Contains(rec.out, "rolled back planned-switchover") {
		t.Fatalf("recover: exit %d\n%s", rec.code, rec.out)
	}
	if active, err := l.Active(); err != nil || len(active) != 0 {
		t.Fatalf("ledger still shows %v (%v)", active, err)
	}
	// The twin's own view: DescribeGlobalClusters through the AWS target's
	// topology (writer member, FailoverState) and the lab underneath.
	topo := run(t, env, "aws", "preflight", "--outputs", outputsFile)
	if !strings.Contains(topo.out, "in us-east-1, failover state \"\"") {
		t.Fatalf("after recover the twin's global cluster is not back on us-east-1 and idle:\n%s", topo.out)
	}
	// The old primary re-establishes replication (a handshake over the
	// cross-region link) just after the switch-back.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		s := status()
		if strings.Contains(s, "primary us-east-1, healthy true") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lab under the twin after recover:\n%s", s)
		}
	}
}

// A twin that cannot start once its lab is up (here: an endpoint address
// that cannot be listened on) takes its lab down, and `twin up` says why
// at once, from the twin's log, leaving nothing running. Before, the lab
// stayed up and `twin up` waited out its --timeout (2 minutes) to say only
// that the endpoint had not started.
func TestTwinUpThatCannotStartSaysWhyAtOnce(t *testing.T) {
	needMariaDB(t)
	dir := filepath.Join(t.TempDir(), "twin")
	t.Cleanup(func() { run(t, nil, "twin", "down", "--dir", dir) })
	start := time.Now()
	r := run(t, nil, "twin", "up", "--dir", dir, "--stack", "../../infra/aws", "--lambdas=false", "--addr", "256.0.0.1:0", "--timeout", "90s")
	if r.code == 0 || !strings.Contains(r.out, "stopped before its AWS endpoint answered") || !strings.Contains(r.out, "listen on 256.0.0.1:0") {
		t.Fatalf("twin up with an address it cannot listen on: exit %d\n%s", r.code, r.out)
	}
	if took := time.Since(start); took > 60*time.Second {
		t.Fatalf("twin up took %v to give up: it waited for a twin that had already stopped", took)
	}
	if left := labProcesses(filepath.Join(dir, "lab")); len(left) > 0 {
		t.Fatalf("processes left after a twin that could not start: %v", left)
	}
}
