package twin

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// scheduleExpr is an EventBridge Scheduler schedule expression: rate(),
// cron() or at() (EventBridge Scheduler User Guide, "Schedule types on
// EventBridge Scheduler"). next is the first fire time after t, false when
// there is none (an at() in the past).
type scheduleExpr interface {
	next(after time.Time) (time.Time, bool)
}

// parseScheduleExpr reads a schedule expression in loc (the schedule's
// ScheduleExpressionTimezone; UTC when unset).
func parseScheduleExpr(expr string, loc *time.Location) (scheduleExpr, error) {
	kind, body, ok := strings.Cut(strings.TrimSpace(expr), "(")
	if !ok || !strings.HasSuffix(body, ")") {
		return nil, fmt.Errorf("schedule expression %q: want rate(…), cron(…) or at(…)", expr)
	}
	body = strings.TrimSuffix(body, ")")
	switch kind {
	case "rate":
		f := strings.Fields(body)
		if len(f) != 2 {
			return nil, fmt.Errorf("rate expression %q: want rate(VALUE UNIT)", expr)
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || n < 1 {
			return nil, fmt.Errorf("rate expression %q: the value must be a positive integer", expr)
		}
		unit := map[string]time.Duration{"minute": time.Minute, "minutes": time.Minute, "hour": time.Hour, "hours": time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour}[f[1]]
		if unit == 0 || (n == 1) != !strings.HasSuffix(f[1], "s") {
			return nil, fmt.Errorf("rate expression %q: the unit is minute(s), hour(s) or day(s), singular for 1", expr)
		}
		return rateExpr(time.Duration(n) * unit), nil
	case "at":
		t, err := time.ParseInLocation("2006-01-02T15:04:05", body, loc)
		if err != nil {
			return nil, fmt.Errorf("at expression %q: want at(yyyy-mm-ddThh:mm:ss)", expr)
		}
		return atExpr(t), nil
	case "cron":
		return parseCron(body, loc)
	}
	return nil, fmt.Errorf("schedule expression %q: want rate(…), cron(…) or at(…)", expr)
}

// rateExpr fires every interval, the first one interval after the start.
type rateExpr time.Duration

func (r rateExpr) next(after time.Time) (time.Time, bool) { return after.Add(time.Duration(r)), true }

type atExpr time.Time

func (a atExpr) next(after time.Time) (time.Time, bool) {
	t := time.Time(a)
	return t, t.After(after)
}

// cronExpr is cron(minutes hours day-of-month month day-of-week year):
// each field a set of allowed values; one of day-of-month and day-of-week
// is "?" (the other restricts the day).
type cronExpr struct {
	minute, hour, dom, month, dow, year map[int]bool // nil: any
	loc                                 *time.Location
}

var (
	monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
	// Day-of-week runs 1-7 from Sunday in cron expressions.
	dayNames = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
)

func parseCron(body string, loc *time.Location) (scheduleExpr, error) {
	f := strings.Fields(body)
	if len(f) != 6 {
		return nil, fmt.Errorf("cron expression cron(%s): want six fields: minutes hours day-of-month month day-of-week year", body)
	}
	if (f[2] == "?") == (f[4] == "?") {
		return nil, fmt.Errorf("cron expression cron(%s): one of day-of-month and day-of-week must be ?", body)
	}
	c := &cronExpr{loc: loc}
	for i, spec := range []struct {
		dst      *map[int]bool
		lo, hi   int
		names    map[string]int
		fieldFor string
	}{{&c.minute, 0, 59, nil, "minutes"}, {&c.hour, 0, 23, nil, "hours"}, {&c.dom, 1, 31, nil, "day-of-month"},
		{&c.month, 1, 12, monthNames, "month"}, {&c.dow, 1, 7, dayNames, "day-of-week"}, {&c.year, 1970, 2199, nil, "year"}} {
		set, err := cronField(f[i], spec.lo, spec.hi, spec.names)
		if err != nil {
			return nil, fmt.Errorf("cron expression cron(%s): %s %q: %v (L, W and # are not modelled)", body, spec.fieldFor, f[i], err)
		}
		*spec.dst = set
	}
	return c, nil
}

// cronField is the set a field allows: *, ?, N, A-B, */S, A-B/S, N/S and
// lists of these; nil for any value.
func cronField(s string, lo, hi int, names map[string]int) (map[int]bool, error) {
	if s == "*" || s == "?" {
		return nil, nil
	}
	set := map[int]bool{}
	value := func(v string) (int, error) {
		if n, ok := names[strings.ToUpper(v)]; ok {
			return n, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("%q is not a value from %d to %d", v, lo, hi)
		}
		return n, nil
	}
	for _, part := range strings.Split(s, ",") {
		rng, stepText, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			var err error
			if step, err = strconv.Atoi(stepText); err != nil || step < 1 {
				return nil, fmt.Errorf("step %q", stepText)
			}
		}
		a, b := lo, hi
		if rng != "*" {
			from, to, isRange := strings.Cut(rng, "-")
			var err error
			if a, err = value(from); err != nil {
				return nil, err
			}
			b = a
			if isRange {
				if b, err = value(to); err != nil {
					return nil, err
				}
			} else if hasStep {
				b = hi
			}
		}
		if a > b {
			return nil, fmt.Errorf("range %s runs backwards", rng)
		}
		for v := a; v <= b; v += step {
			set[v] = true
		}
	}
	return set, nil
}

func allows(set map[int]bool, v int) bool { return set == nil || set[v] }

// next walks forward from the minute after t, skipping whole years,
// months, days and hours that cannot match.
func (c *cronExpr) next(after time.Time) (time.Time, bool) {
	t := after.In(c.loc).Truncate(time.Minute).Add(time.Minute)
	for limit := t.AddDate(200, 0, 0); t.Before(limit); {
		switch {
		case !allows(c.year, t.Year()):
			t = time.Date(t.Year()+1, 1, 1, 0, 0, 0, 0, c.loc)
		case !allows(c.month, int(t.Month())):
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, c.loc)
		case !allows(c.dom, t.Day()) || !allows(c.dow, int(t.Weekday())+1):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, c.loc)
		case !allows(c.hour, t.Hour()):
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, c.loc)
		case !allows(c.minute, t.Minute()):
			t = t.Add(time.Minute)
		default:
			return t, true
		}
	}
	return time.Time{}, false
}
