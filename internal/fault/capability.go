package fault

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/drdrill/drdrill/internal/target"
)

// Unavailable says which capability a fault needs that a target lacks.
type Unavailable struct {
	Capability string // the target interface, e.g. "RegionServers"
	What       string // what it is, for the user
	OfferedBy  string // the targets that offer it
	Target     string // the target's Kind
}

func (u *Unavailable) Error() string {
	return fmt.Sprintf("needs %s (target.%s, offered by %s); the %s target does not offer it", u.What, u.Capability, u.OfferedBy, u.Target)
}

// capabilityInfo is what a capability is, in the words an unavailable
// fault uses, and which targets offer it.
type capabilityInfo struct{ what, offeredBy string }

var (
	servers   = capabilityInfo{"process control of each region's database server", "the lab"}
	links     = capabilityInfo{"control of each network path", "the lab's proxies"}
	control   = capabilityInfo{"control of the failover controller's cross-region path", "the lab"}
	promoter  = capabilityInfo{"promotions of a region to writer", "the lab and AWS"}
	monitors  = capabilityInfo{"control of the health monitoring", "the lab's controller and AWS's health-monitor functions"}
	isolation = capabilityInfo{"network ACLs on each region's database subnets", "AWS"}
	alarmPath = capabilityInfo{"a lag alarm with an SNS notification path", "AWS"}
)

// capability returns t as C, or why it is not one. Faults ask a target for
// what they need, never for the implementation behind it.
func capability[C any](t target.Target, c capabilityInfo) (C, error) {
	v, ok := t.(C)
	if !ok {
		kind := "given"
		if t != nil {
			kind = t.Kind()
		}
		return v, &Unavailable{Capability: reflect.TypeFor[C]().Name(), What: c.what, OfferedBy: c.offeredBy, Target: kind}
	}
	return v, nil
}

func has[C any](t target.Target, c capabilityInfo) error {
	_, err := capability[C](t, c)
	return err
}

// guard passes the target's safety guard, if it has one: called from
// Resolve, so a refused fault never reaches the ledger.
func guard(ctx context.Context, t target.Target) error {
	if g, ok := t.(target.Guarded); ok {
		return g.Guard(ctx)
	}
	return nil
}

// roles resolves p["region"] (default: the current primary, or the other
// region when def is "secondary") and records the primary and the other region.
func roles(ctx context.Context, t target.Target, p Params, def string) (Params, error) {
	topo, err := t.Topology(ctx)
	if err != nil {
		return nil, err
	}
	q := p.clone()
	q["primary"] = topo.Primary
	if q["region"] == "" {
		q["region"] = topo.Primary
		if def == "secondary" {
			q["region"] = other(t, topo.Primary)
		}
	}
	valid := false
	for _, r := range t.Regions() {
		valid = valid || r == q["region"]
	}
	if !valid {
		return nil, fmt.Errorf("unknown region %q (regions: %s)", q["region"], strings.Join(t.Regions(), ", "))
	}
	q["other"] = other(t, q["region"])
	return q, nil
}

func other(t target.Target, region string) string {
	for _, r := range t.Regions() {
		if r != region {
			return r
		}
	}
	return ""
}

func (p Params) clone() Params {
	q := Params{}
	for k, v := range p {
		q[k] = v
	}
	return q
}
