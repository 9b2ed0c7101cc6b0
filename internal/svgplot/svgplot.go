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

// Series is a line (Bars false) or one layer of stacked bars (Bars true).
type Series struct {
	Name   string
	Color  string
	Points []XY
	Bars   bool
	Dashed bool
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
	Bands          []Band
	Marks          []Mark
	HLines         []HLine
	// BarWidth is the X width of one bar (stacked series).
	BarWidth float64
	// XMax, when set, fixes the X range to [0, XMax].
	XMax float64
}

const (
	padL, padR, padT, padB = 58, 14, 26, 40
)

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
	pw, ph := float64(w-padL-padR), float64(h-padT-padB)
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
	for _, band := range c.Bands {
		x0, x1 := sx(math.Max(0, band.From)), sx(math.Min(xmax, band.To))
		color := band.Color
		if color == "" {
			color = "#f4c542"
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.22"><title>%s</title></rect>`, x0, padT, math.Max(1, x1-x0), ph, color, esc(band.Label))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="bl">%s</text>`, x0+3, padT+11, esc(band.Label))
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
	// Lines.
	for _, s := range c.Series {
		if s.Bars || len(s.Points) == 0 {
			continue
		}
		var d strings.Builder
		for i, p := range s.Points {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&d, "%s%.1f %.1f", cmd, sx(p.X), sy(p.Y))
		}
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="4 3"`
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.5"%s><title>%s</title></path>`, d.String(), s.Color, dash, esc(s.Name))
		if len(s.Points) == 1 {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, sx(s.Points[0].X), sy(s.Points[0].Y), s.Color)
		}
	}
	for _, hl := range c.HLines {
		fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="6 3"/><text x="%.1f" y="%.1f" class="hl" fill="%s">%s</text>`,
			padL, padL+pw, sy(hl.At), sy(hl.At), hl.Color, padL+pw-4, sy(hl.At)-3, hl.Color, esc(hl.Label))
	}
	for i, m := range c.Marks {
		x := sx(m.At)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" stroke="%s" stroke-width="1.2"><title>%s</title></line>`, x, x, padT, padT+ph, m.Color, esc(m.Label))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="ml" fill="%s">%s</text>`, x+2, padT+22+12*(i%3), m.Color, esc(m.Label))
	}
	// Legend.
	lx := float64(padL) + 260
	for _, s := range c.Series {
		fmt.Fprintf(&b, `<rect x="%.0f" y="7" width="10" height="10" fill="%s"/><text x="%.0f" y="16" class="lg">%s</text>`, lx, s.Color, lx+13, esc(s.Name))
		lx += 18 + float64(7*len(s.Name))
	}
	b.WriteString(`</svg>`)
	return b.String()
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
