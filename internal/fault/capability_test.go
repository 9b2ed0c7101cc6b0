package fault

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/target"
)

// The faults and the suites ask a target for capabilities; none of them
// may reach for an implementation (the lab's client, the AWS stack).
func TestFaultsAndSuitesImportNoImplementation(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, dir := range []string{"internal/fault", "internal/scenario", "suites/framework", "suites/drill"} {
		files, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files (%v)", dir, err)
		}
		for _, f := range files {
			// The suites' files are all _test.go; this package's own tests
			// build AWS stacks with intercepted clients.
			if dir == "internal/fault" && strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				for _, impl := range []string{"/internal/lab", "/internal/aws", "/internal/twin"} {
					if strings.HasSuffix(path, impl) {
						t.Errorf("%s imports %s: ask the target for a capability (internal/target/capability.go) instead", f, path)
					}
				}
			}
		}
	}
}

// promoterOnly is a stack that can do nothing but move its writer: a third
// kind of target, neither the lab nor AWS. The promotion faults run on it
// through the ledger; every fault needing another capability says which.
type promoterOnly struct {
	writer string
	calls  []string
}

func (p *promoterOnly) Kind() string             { return "promoter-only" }
func (p *promoterOnly) Outputs() outputs.Outputs { return outputs.Outputs{} }
func (p *promoterOnly) Regions() []string        { return []string{"east", "west"} }
func (p *promoterOnly) Topology(context.Context) (target.Topology, error) {
	return target.Topology{Primary: p.writer, Healthy: true}, nil
}
func (p *promoterOnly) Writer() (*sql.DB, error)                            { return nil, errors.New("no database") }
func (p *promoterOnly) Reader(string) (*sql.DB, error)                      { return nil, errors.New("no database") }
func (p *promoterOnly) Events(context.Context, int) ([]target.Event, error) { return nil, nil }
func (p *promoterOnly) Alarms(context.Context) ([]target.Alarm, error)      { return nil, nil }
func (p *promoterOnly) Recover(context.Context) ([]string, error)           { return nil, nil }
func (p *promoterOnly) Failback(context.Context) ([]string, error)          { return nil, nil }
func (p *promoterOnly) Close() error                                        { return nil }
func (p *promoterOnly) Promote(_ context.Context, region string, how target.Promotion) error {
	p.calls = append(p.calls, fmt.Sprintf("promote %s data-loss=%t no-fence=%t", region, how.AllowDataLoss, how.NoFence))
	p.writer = region
	return nil
}
func (p *promoterOnly) SwitchBack(_ context.Context, region string) error {
	p.calls = append(p.calls, "switch-back "+region)
	p.writer = region
	return nil
}

func TestFaultsRunOnAnyTargetOfferingTheirCapability(t *testing.T) {
	p := &promoterOnly{writer: "east"}
	tgt := target.Target(p)
	for _, f := range Catalogue() {
		err := f.Available(tgt)
		switch f.Name() {
		case "planned-switchover", "unplanned-failover":
			if err != nil {
				t.Errorf("%s: not available on a target with a Promoter: %v", f.Name(), err)
			}
		default:
			var u *Unavailable
			if !errors.As(err, &u) || u.Capability == "" || !strings.Contains(err.Error(), "target."+u.Capability) {
				t.Errorf("%s on a target with only a Promoter: %v; want an Unavailable naming the capability", f.Name(), err)
			}
		}
	}
	l := ledger.Open(t.TempDir())
	ctx := context.Background()
	h, err := Inject(ctx, tgt, l, "unplanned-failover", Params{"no_fence": "true"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if p.writer != "west" || h.Params["primary"] != "east" || h.Params["region"] != "west" {
		t.Fatalf("after inject: writer %s, params %v", p.writer, h.Params)
	}
	if err := h.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if want := "promote west data-loss=true no-fence=true,switch-back east"; strings.Join(p.calls, ",") != want {
		t.Fatalf("calls %q, want %q", strings.Join(p.calls, ","), want)
	}
	if p.writer != "east" {
		t.Fatalf("writer %s after rollback, want east", p.writer)
	}
	if a, _ := l.Active(); len(a) != 0 {
		t.Fatalf("ledger after rollback: %+v", a)
	}
	if _, err := Inject(ctx, tgt, l, "region-crash", nil, "test"); err == nil || !strings.Contains(err.Error(), "target.RegionServers") {
		t.Fatalf("region-crash on a target without servers: %v", err)
	}
	if b, err := os.ReadFile(l.Path()); err != nil || strings.Contains(string(b), "region-crash") {
		t.Fatalf("an unavailable fault reached the ledger: %v\n%s", err, b)
	}
}
