package refcheck

import "math"

func (c *checker) hypothesis() {
	if !c.hasFault || len(c.promotions) == 0 {
		c.f.notApplicable("hypothesis/consistent")
		return
	}
	if why := first(c.trafficWhy, c.primaryWhy, c.controllerWhy); why != "" {
		c.f.notJudged("hypothesis/consistent", why)
		return
	}
	region := c.promotions[0].Region
	if region == "" {
		region = c.primary.Region
	}
	series := region
	var last float64
	var lastAt int64
	found := false
	for _, s := range []string{"aws:" + region, region} {
		for _, x := range c.h.Lag {
			if x.Region == s && x.At < c.fault && (!found || x.At >= lastAt) {
				last, lastAt, found = x.Ms, x.At, true
			}
		}
		if found {
			series = s
			break
		}
	}
	c.f.set("hypothesis/region/"+region, 1)
	c.f.set("hypothesis/series/"+series, 1)
	span, lost := c.f["replication_loss_ms"].Value, c.f["replication_lost_writes"].Value
	c.f.set("hypothesis/lost_span_ms", span)
	if !found {
		c.f.flag("hypothesis/no_lag_reading", true)
		c.f.flag("hypothesis/consistent", lost == 0)
		return
	}
	res, _ := c.lagResolution(series)
	tolerance := c.f["rpo_resolution_ms"].Value + res
	c.f.set("hypothesis/last_lag_ms", last)
	c.f.set("hypothesis/tolerance_ms", tolerance)
	consistent := span <= last+tolerance
	c.f.flag("hypothesis/consistent", consistent)
	if !consistent {
		c.f.set("hypothesis/under_by_ms", math.Round((span-last)*10)/10)
	}
}
