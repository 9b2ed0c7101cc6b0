// Package svgplot draws the few chart kinds drdrill's reports need — time
// series, stacked bars, shaded windows, event markers, threshold lines — as
// plain inline SVG. It is small on purpose: reports must be one
// self-contained file with no fonts or scripts, and a general plotting
// library would embed fonts and cost far more than these few hundred lines.
package svgplot

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// XY is a point.
type XY struct{ X, Y float64 }

// Series is a line (Bars false) or one layer of stacked bars (Bars true),
// or dots only (Dots true).
type Series struct {
	Name   string
	Color  string
	Points []XY
	Bars   bool
	Dashed bool
	Dots   bool
}

// Area shades the region between two curves sharing X values (a
// percentile band); it gets a legend entry.
type Area struct {
	Name      string
	Color     string
	Low, High []XY
}

// Band shades an X range (a fault window).
type Band struct {
	From, To float64
	Label    string
	Color    string
}

// Mark is a vertical line at X (a controller event).
type Mark struct {
	At    float64
	Label string
	Color string
}

// HLine is a horizontal line at Y (a target or threshold).
type HLine struct {
	At    float64
	Label string
	Color string
}

// Chart is one plot.
type Chart struct {
	Title          string
	XLabel, YLabel string
	Width, Height  int
	Series         []Series
	Areas          []Area
	Bands          []Band
	Marks          []Mark
	HLines         []HLine
	// BarWidth is the X width of one bar (stacked series).
	BarWidth float64
	// XMax, when set, fixes the X range to [0, XMax].
	XMax float64
}

const (
	padL, padR, padB = 58, 14, 40
	// titleH is the title's row; each legend row adds legendH below it.
	titleH, legendH = 24, 15
)

// TextWidth estimates the rendered width of s at a font size, generously
// (0.62 em a character) so that layout keeps labels apart in any
// sans-serif font; report-check measures the real boxes in Chromium.
func TextWidth(s string, px float64) float64 {
	return float64(len([]rune(s))) * px * 0.62
}

// rows places labels left to right in the first row where they do not
// collide with a label already there; it returns each label's row, or -1
// when all maxRows rows are taken at that spot.
type rows struct {
	ends    [][]span
	maxRows int
	used    int // rows holding a placed label (reserved spans aside)
}

// box is a drawn label's extent: labels placed later keep clear of it.
type box struct{ x0, x1, top, bottom float64 }

// reserve keeps the rows whose labels (baselines first, first+12, …) would
// cross any of boxes clear of them.
func (r *rows) reserve(first float64, boxes []box) {
	for i := 0; i < r.maxRows; i++ {
		top, bottom := first+12*float64(i)-9, first+12*float64(i)+3
		for _, bx := range boxes {
			if top < bx.bottom && bottom > bx.top {
				for len(r.ends) <= i {
					r.ends = append(r.ends, nil)
				}
				r.ends[i] = append(r.ends[i], span{bx.x0, bx.x1})
			}
		}
	}
}

type span struct{ from, to float64 }

func (r *rows) place(from, to float64) int {
	for i := 0; i < r.maxRows; i++ {
		if i == len(r.ends) {
			r.ends = append(r.ends, nil)
		}
		free := true
		for _, s := range r.ends[i] {
			if from < s.to+4 && to > s.from-4 {
				free = false
				break
			}
		}
		if free {
			r.ends[i] = append(r.ends[i], span{from, to})
			r.used = max(r.used, i+1)
			return i
		}
	}
	return -1
}

type legendEntry struct {
	name, color string
	line        bool
}

func (c Chart) legend() []legendEntry {
	var out []legendEntry
	for _, a := range c.Areas {
		out = append(out, legendEntry{a.Name, a.Color, false})
	}
	for _, s := range c.Series {
		if s.Name != "" {
			out = append(out, legendEntry{s.Name, s.Color, !s.Bars})
		}
	}
	return out
}

// legendLayout wraps legend entries into rows within width w.
func legendLayout(entries []legendEntry, w float64) ([][]legendEntry, []float64) {
	var out [][]legendEntry
	var xs []float64
	x := float64(padL)
	for _, e := range entries {
		ew := 16 + TextWidth(e.name, 11)
		if len(out) == 0 || x+ew > w-padR {
			out = append(out, nil)
			x = padL
		}
		out[len(out)-1] = append(out[len(out)-1], e)
		xs = append(xs, x)
		x += ew + 12
	}
	return out, xs
}

func esc(s string) string { return html.EscapeString(s) }

// niceStep picks a 1/2/5×10^n tick step for about n ticks.
func niceStep(span float64, n int) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

func fmtTick(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 1e6:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v/1e6), ".0") + "M"
	case math.Abs(v) >= 1e4:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v/1e3), ".0") + "k"
	case math.Abs(v) >= 1000:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.0f", v)
	default:
		return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
	}
}

// SVG renders the chart.
func (c Chart) SVG() string {
	w, h := c.Width, c.Height
	if w == 0 {
		w = 860
	}
	if h == 0 {
		h = 220
	}
	legendRows, legendX := legendLayout(c.legend(), float64(w))
	padT := float64(titleH + legendH*len(legendRows) + 4)
	pw, ph := float64(w-padL-padR), float64(h)-padT-padB
	// Ranges.
	xmax, ymax := c.XMax, 0.0
	stack := map[float64]float64{}
	for _, s := range c.Series {
		for _, p := range s.Points {
			if c.XMax == 0 {
				xmax = math.Max(xmax, p.X+c.barW(s))
			}
			if s.Bars {
				stack[p.X] += p.Y
				ymax = math.Max(ymax, stack[p.X])
			} else {
				ymax = math.Max(ymax, p.Y)
			}
		}
	}
	for _, hl := range c.HLines {
		ymax = math.Max(ymax, hl.At)
	}
	for _, a := range c.Areas {
		for _, p := range a.High {
			ymax = math.Max(ymax, p.Y)
			if c.XMax == 0 {
				xmax = math.Max(xmax, p.X)
			}
		}
	}
	for _, b := range c.Bands {
		if c.XMax == 0 {
			xmax = math.Max(xmax, b.To)
		}
	}
	if xmax <= 0 {
		xmax = 1
	}
	if ymax <= 0 {
		ymax = 1
	}
	ystep := niceStep(ymax, 4)
	ymax = math.Ceil(ymax*1.05/ystep) * ystep
	sx := func(x float64) float64 { return padL + x/xmax*pw }
	sy := func(y float64) float64 { return padT + ph - y/ymax*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`, w, h, w, h, esc(c.Title))
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="#fff"/>`, w, h)
	fmt.Fprintf(&b, `<text x="%d" y="16" class="t">%s</text>`, padL, esc(c.Title))
	// Legend: its own rows under the title, wrapped to the width.
	k := 0
	for row, entries := range legendRows {
		y := float64(titleH + legendH*row)
		for _, e := range entries {
			x := legendX[k]
			k++
			if e.line {
				fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.0f" y2="%.0f" stroke="%s" stroke-width="2"/>`, x, x+10, y+5, y+5, e.color)
			} else {
				fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="10" height="10" fill="%s" fill-opacity="0.6"/>`, x, y, e.color)
			}
			fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="lg">%s</text>`, x+14, y+9, esc(e.name))
		}
	}
	// Threshold labels sit above their line at the right, or below it when
	// another label already took that spot; they are placed first, and the
	// window and event labels keep clear of them.
	var taken []float64
	hlY := make([]float64, len(c.HLines))
	var hlBoxes []box
	for i, hl := range c.HLines {
		y := sy(hl.At) - 3
		for _, t := range taken {
			if math.Abs(t-y) < 12 {
				y = sy(hl.At) + 12
			}
		}
		taken = append(taken, y)
		hlY[i] = math.Max(padT+10, y)
		w := TextWidth(hl.Label, 11)
		hlBoxes = append(hlBoxes, box{padL + pw - 4 - w, padL + pw - 4, hlY[i] - 10, hlY[i] + 3})
	}
	// Fault windows; their labels take the first free row at the top of
	// the plot, and a label with no room is left to the tooltip.
	bandRows := rows{maxRows: max(1, int(ph/3/12))}
	bandRows.reserve(padT+11, hlBoxes)
	for _, band := range c.Bands {
		x0, x1 := sx(math.Max(0, band.From)), sx(math.Min(xmax, band.To))
		color := band.Color
		if color == "" {
			color = "#f4c542"
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.22"><title>%s</title></rect>`, x0, padT, math.Max(1, x1-x0), ph, color, esc(band.Label))
		lx := math.Min(x0+3, padL+pw-TextWidth(band.Label, 10))
		if row := bandRows.place(lx, lx+TextWidth(band.Label, 10)); row >= 0 && band.Label != "" {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="bl">%s</text>`, lx, padT+11+12*float64(row), esc(band.Label))
		}
	}
	// Grid and axes.
	for y := 0.0; y <= ymax+ystep/2; y += ystep {
		fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" class="g"/><text x="%d" y="%.1f" class="yl">%s</text>`, padL, padL+pw, sy(y), sy(y), padL-6, sy(y)+4, fmtTick(y))
	}
	xstep := niceStep(xmax, 8)
	for x := 0.0; x <= xmax+xstep/1000; x += xstep {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" class="a"/><text x="%.1f" y="%.1f" class="xl">%s</text>`, sx(x), sx(x), padT+ph, padT+ph+4, sx(x), padT+ph+16, fmtTick(x))
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" class="a"/>`, padL, padL+pw, padT+ph, padT+ph)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="xt">%s</text>`, padL+pw/2, h-4, esc(c.XLabel))
	fmt.Fprintf(&b, `<text transform="translate(12 %.1f) rotate(-90)" class="yt">%s</text>`, padT+ph/2, esc(c.YLabel))
	// Percentile bands.
	for _, a := range c.Areas {
		if len(a.High) == 0 || len(a.High) != len(a.Low) {
			continue
		}
		var d strings.Builder
		polyline(&d, a.High, sx, sy)
		for i := len(a.Low) - 1; i >= 0; i-- {
			fmt.Fprintf(&d, "L%.1f %.1f", sx(a.Low[i].X), sy(a.Low[i].Y))
		}
		fmt.Fprintf(&b, `<path d="%sz" fill="%s" fill-opacity="0.25" stroke="none"><title>%s</title></path>`, d.String(), a.Color, esc(a.Name))
	}
	// Stacked bars, in series order.
	base := map[float64]float64{}
	for _, s := range c.Series {
		if !s.Bars {
			continue
		}
		bw := math.Max(0.6, c.barW(s)/xmax*pw-0.3)
		var d strings.Builder
		for _, p := range s.Points {
			if p.Y <= 0 {
				continue
			}
			y0 := base[p.X]
			base[p.X] += p.Y
			fmt.Fprintf(&d, "M%.1f %.1fh%.1fv%.1fh%.1fz", sx(p.X), sy(y0+p.Y), bw, sy(y0)-sy(y0+p.Y), -bw)
		}
		if d.Len() > 0 {
			fmt.Fprintf(&b, `<path d="%s" fill="%s"><title>%s</title></path>`, d.String(), s.Color, esc(s.Name))
		}
	}
	// Lines and dots.
	for _, s := range c.Series {
		if s.Bars || len(s.Points) == 0 {
			continue
		}
		if s.Dots {
			for _, p := range s.Points {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"><title>%s %.4g</title></circle>`, sx(p.X), sy(p.Y), s.Color, esc(s.Name), p.Y)
			}
			continue
		}
		var d strings.Builder
		polyline(&d, s.Points, sx, sy)
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="4 3"`
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.5"%s><title>%s</title></path>`, d.String(), s.Color, dash, esc(s.Name))
		if len(s.Points) == 1 {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, sx(s.Points[0].X), sy(s.Points[0].Y), s.Color)
		}
	}
	for i, hl := range c.HLines {
		fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="6 3"><title>%s</title></line><text x="%.1f" y="%.1f" class="hl" fill="%s">%s</text>`,
			padL, padL+pw, sy(hl.At), sy(hl.At), hl.Color, esc(hl.Label), padL+pw-4, hlY[i], hl.Color, esc(hl.Label))
	}
	// Event labels: below the fault-window labels, first free row clear of
	// the threshold labels; a label with no room keeps its line and tooltip.
	markRows := rows{maxRows: max(1, int(ph/2/12))}
	top := padT + 11 + 12*float64(bandRows.used)
	markRows.reserve(top, hlBoxes)
	for _, m := range c.Marks {
		x := sx(m.At)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1.2"><title>%s</title></line>`, x, x, padT, padT+ph, m.Color, esc(m.Label))
		lx := math.Min(x+2, padL+pw-TextWidth(m.Label, 10))
		if row := markRows.place(lx, lx+TextWidth(m.Label, 10)); row >= 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="ml" fill="%s">%s</text>`, lx, top+12*float64(row), m.Color, esc(m.Label))
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// polyline writes the path commands through points (M, then L).
func polyline(d *strings.Builder, points []XY, sx, sy func(float64) float64) {
	for i, p := range points {
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(d, "%s%.1f %.1f", cmd, sx(p.X), sy(p.Y))
	}
}

func (c Chart) barW(s Series) float64 {
	if s.Bars {
		return c.BarWidth
	}
	return 0
}

// Style is the CSS the SVG classes need; include it once per page.
const Style = `svg text{font:11px system-ui,sans-serif;fill:#333}
svg .t{font-weight:600;font-size:12px}
svg .g{stroke:#eee}
svg .a{stroke:#999}
svg .yl{text-anchor:end}
svg .xl,svg .xt{text-anchor:middle}
svg .yt{text-anchor:middle}
svg .hl{text-anchor:end}
svg .bl{font-size:10px;fill:#8a6d00}
svg .ml{font-size:10px}`
