// Package fault is the fault catalogue, shaped like etcd's failpoints: each
// fault has a Name, says whether it is Available on a target, and Injects
// with a rollback. Every injection goes through the ledger first, so a
// killed harness never leaves a fault behind that `drdrill recover` cannot undo.
package fault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/target"
)

// Params are a fault's parameters, as strings so that they round-trip
// through the ledger and the command line unchanged.
type Params map[string]string

// Failpoint is one kind of fault.
type Failpoint interface {
	Name() string
	Description() string
	// Available returns nil when the target supports the fault, else why not.
	Available(t target.Target) error
	// Resolve fills in defaults from the live topology (which region, what
	// to restore) so the ledger records exactly what Rollback must undo.
	Resolve(ctx context.Context, t target.Target, p Params) (Params, error)
	Inject(ctx context.Context, t target.Target, p Params) error
	// Rollback undoes the fault. It must be idempotent and must work from
	// the resolved params alone: `drdrill recover` calls it from the ledger.
	Rollback(ctx context.Context, t target.Target, p Params) error
}

var catalogue = map[string]Failpoint{}

func register(f Failpoint) { catalogue[f.Name()] = f }

// Catalogue lists every fault, by name.
func Catalogue() []Failpoint {
	out := make([]Failpoint, 0, len(catalogue))
	for _, f := range catalogue {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// Lookup finds a fault by name, or says which names exist.
func Lookup(name string) (Failpoint, error) {
	if f, ok := catalogue[name]; ok {
		return f, nil
	}
	var names []string
	for _, f := range Catalogue() {
		names = append(names, f.Name())
	}
	return nil, fmt.Errorf("unknown fault %q (faults: %s)", name, strings.Join(names, ", "))
}

// Handle is an injected fault.
type Handle struct {
	ID       string
	Fault    Failpoint
	Params   Params
	Injected time.Time
	// Recorded is when the ledger recorded it, just before its injection
	// began: the fault's time in a drill's history, and the time `drdrill
	// observe` reads from the ledger, so both measure from one instant.
	Recorded time.Time
	// Effective is when the fault's effect began, for a fault that says
	// (Effective): a region isolation's first subnet cut, after the calls
	// that prepare it. Zero: at Injected.
	Effective time.Time
	t         target.Target
	l         *ledger.Ledger
	by        string
	// mu makes a rollback that a stop catches mid-way and the cleanup that
	// follows it one rollback: the second call waits for the first.
	mu   sync.Mutex
	done bool
}

func newID(name string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%s-%s", time.Now().UTC().Format("150405"), name, hex.EncodeToString(b))
}

// Inject resolves, records and injects a fault. If injection fails half-way
// the fault is rolled back at once and the error says so.
func Inject(ctx context.Context, t target.Target, l *ledger.Ledger, name string, p Params, by string) (*Handle, error) {
	f, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	if err := f.Available(t); err != nil {
		return nil, fmt.Errorf("fault %s is not available on the %s target: %w", name, t.Kind(), err)
	}
	if p == nil {
		p = Params{}
	}
	p, err = f.Resolve(ctx, t, p)
	if err != nil {
		return nil, fmt.Errorf("fault %s: %w", name, err)
	}
	h := &Handle{ID: newID(name), Fault: f, Params: p, t: t, l: l, by: by}
	entry := ledger.Entry{ID: h.ID, Fault: name, Params: p, State: ledger.Injecting, By: by, TimeNs: time.Now().UnixNano()}
	if err := l.Record(entry); err != nil {
		return nil, fmt.Errorf("fault %s not injected: the ledger could not record it: %w", name, err)
	}
	h.Recorded = time.Unix(0, entry.TimeNs)
	h.Injected = time.Now()
	// Whatever the fault creates or changes is in the ledger as soon as it
	// exists (Progress), so a kill -9 at any instant leaves what recover
	// needs to undo exactly that.
	ctx = context.WithValue(ctx, progressKey{}, func(q Params) error {
		return l.Record(ledger.Entry{ID: h.ID, Fault: name, Params: q, State: ledger.Injecting, By: by})
	})
	ctx = context.WithValue(ctx, effectiveKey{}, func(at time.Time) {
		if h.Effective.IsZero() {
			h.Effective = at
		}
	})
	if err := f.Inject(ctx, t, p); err != nil {
		rerr := h.Rollback(context.WithoutCancel(ctx))
		return nil, errors.Join(fmt.Errorf("inject %s: %w", name, err), rerr)
	}
	if err := l.Record(ledger.Entry{ID: h.ID, Fault: name, Params: p, State: ledger.Injected, By: by}); err != nil {
		return h, err
	}
	return h, nil
}

type progressKey struct{}

// Progress records, while a fault is being injected, the parameters as
// they now stand (a resource it just created, a setting it just changed).
// A fault calls it right after each change; outside Inject it does nothing.
func Progress(ctx context.Context, p Params) error {
	if rec, ok := ctx.Value(progressKey{}).(func(Params) error); ok {
		return rec(p)
	}
	return nil
}

type effectiveKey struct{}

// Effective records, while a fault is being injected, the moment its
// effect began, when that is not the start of the injection (a region
// isolation is in effect from its first subnet moved, not from the calls
// that prepare it, which eventual consistency can make seconds long). The
// first call wins; outside Inject it does nothing.
func Effective(ctx context.Context, at time.Time) {
	if rec, ok := ctx.Value(effectiveKey{}).(func(time.Time)); ok {
		rec(at)
	}
}

// Rollback undoes the fault and marks it in the ledger; a failed rollback
// stays in the ledger as rollback-failed for `drdrill recover`.
func (h *Handle) Rollback(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return nil
	}
	// As long as the target may take: a switch-back on AWS is a global
	// database switchover, minutes long.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), target.BoundsOf(h.t).Rollback)
	defer cancel()
	// Recorded first: whoever looks while this runs (a stop, `drdrill
	// recover` after a kill -9) sees it is being undone.
	_ = h.l.Record(ledger.Entry{ID: h.ID, Fault: h.Fault.Name(), Params: h.Params, State: ledger.RollingBack, By: h.by})
	if err := h.Fault.Rollback(ctx, h.t, h.Params); err != nil {
		_ = h.l.Record(ledger.Entry{ID: h.ID, Fault: h.Fault.Name(), Params: h.Params, State: ledger.RollbackFailed, Error: err.Error(), By: h.by})
		return fmt.Errorf("rollback of %s (%s) failed: %w — it stays in %s; run `drdrill recover`", h.Fault.Name(), h.ID, err, h.l.Path())
	}
	h.done = true
	return h.l.Record(ledger.Entry{ID: h.ID, Fault: h.Fault.Name(), Params: h.Params, State: ledger.RolledBack, By: h.by})
}

// RollbackByID rolls back one ledger entry (the newest active one if id is empty).
func RollbackByID(ctx context.Context, t target.Target, l *ledger.Ledger, id, by string) (ledger.Entry, error) {
	active, err := l.Active()
	if err != nil {
		return ledger.Entry{}, err
	}
	for _, e := range active {
		if id == "" || e.ID == id {
			return e, rollbackEntry(ctx, t, l, e, by)
		}
	}
	if id == "" {
		return ledger.Entry{}, fmt.Errorf("no injected fault in %s", l.Path())
	}
	return ledger.Entry{}, fmt.Errorf("fault %s is not injected (see `drdrill fault list --dir …`)", id)
}

func rollbackEntry(ctx context.Context, t target.Target, l *ledger.Ledger, e ledger.Entry, by string) error {
	f, err := Lookup(e.Fault)
	if err != nil {
		return err
	}
	h := &Handle{ID: e.ID, Fault: f, Params: e.Params, t: t, l: l, by: by}
	return h.Rollback(ctx)
}

// Recover rolls back, newest first, every fault the ledger still shows as
// injected, then asks the target for a healthy topology. It is idempotent
// and returns what it did.
func Recover(ctx context.Context, t target.Target, l *ledger.Ledger) ([]string, error) {
	active, err := l.Active()
	if err != nil {
		return nil, err
	}
	var did []string
	var errs []error
	// Newest first; a rollback that cannot go yet (a switch-back into a
	// region still cut off) is retried once the others are done, as long
	// as each pass undoes something.
	for pending := active; len(pending) > 0; {
		var retry []ledger.Entry
		errs = nil
		for _, e := range pending {
			if err := rollbackEntry(ctx, t, l, e, "recover"); err != nil {
				errs = append(errs, err)
				retry = append(retry, e)
				continue
			}
			did = append(did, fmt.Sprintf("rolled back %s (%s, was %s)", e.Fault, e.ID, e.State))
		}
		if len(retry) == len(pending) {
			break
		}
		pending = retry
	}
	more, err := t.Recover(ctx)
	did = append(did, more...)
	if err != nil {
		errs = append(errs, fmt.Errorf("target recovery: %w", err))
	}
	return did, errors.Join(errs...)
}

func init() {
	for _, f := range []Failpoint{RegionCrash{}, RegionFreeze{}, Partition{}, WANDegradation{}, PlannedSwitchover{},
		UnplannedFailover{}, MonitorFailure{}, RegionIsolation{}, AlarmPath{}} {
		register(f)
	}
}
