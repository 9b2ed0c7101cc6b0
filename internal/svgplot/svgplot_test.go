package svgplot

import (
	"encoding/xml"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func wellFormed(t *testing.T, s string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
	}
}

func TestChartIsWellFormedAndDrawsEveryPart(t *testing.T) {
	c := Chart{Title: `writes <&> "lag"`, XLabel: "ms", YLabel: "writes", BarWidth: 10,
		Series: []Series{{Name: "ok", Color: "#2a2", Bars: true, Points: []XY{{0, 3}, {10, 4}}},
			{Name: "fail", Color: "#d22", Bars: true, Points: []XY{{10, 2}}},
			{Name: "lag", Color: "#22d", Points: []XY{{0, 1}, {15, 9}}}},
		Bands:  []Band{{From: 5, To: 12, Label: "region-crash"}},
		Marks:  []Mark{{At: 8, Label: "promote", Color: "#000"}},
		HLines: []HLine{{At: 5, Label: "500 ms", Color: "#d22"}}}
	s := c.SVG()
	wellFormed(t, s)
	for _, want := range []string{"region-crash", "promote", "500 ms", `writes &lt;&amp;&gt; &#34;lag&#34;`, "<path", "<rect"} {
		if !strings.Contains(s, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if strings.Contains(s, "http://") && strings.Count(s, "http://") != 1 { // only the xmlns
		t.Error("SVG references something external")
	}
}

func TestEmptyChartStillRenders(t *testing.T) {
	wellFormed(t, Chart{Title: "empty"}.SVG())
}

func TestNiceStep(t *testing.T) {
	for _, c := range []struct{ span, want float64 }{{100, 20}, {7, 2}, {0.9, 0.2}, {4500, 1000}} {
		if got := niceStep(c.span, 5); got != c.want {
			t.Errorf("niceStep(%v) = %v, want %v", c.span, got, c.want)
		}
	}
}

// Event labels keep clear of threshold labels. A lag plot whose values
// reach its alarm line puts the line's label in the top rows, where events
// near the plot's right edge put theirs: the drill's report drew "alarm
// 500 ms" over "diverged us-east-1" and "reseed us-east-1" (report-check
// in make test, once the lab reported re-seeds).
func TestEventLabelsKeepClearOfThresholdLabels(t *testing.T) {
	c := Chart{Title: "Replication lag per region", XLabel: "s", YLabel: "ms",
		Series: []Series{{Name: "us-west-2", Color: "#22d", Points: []XY{{0, 10}, {50, 520}, {100, 30}}}},
		Marks:  []Mark{{At: 92, Label: "diverged us-east-1", Color: "#000"}, {At: 96, Label: "reseed us-east-1", Color: "#000"}},
		HLines: []HLine{{At: 500, Label: "alarm 500 ms", Color: "#e377c2"}}}
	s := c.SVG()
	wellFormed(t, s)
	type label struct {
		text                     string
		left, right, top, bottom float64
	}
	var labels []label
	re := regexp.MustCompile(`<text x="([0-9.]+)" y="([0-9.]+)" class="(hl|ml)"[^>]*>([^<]*)</text>`)
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		x, _ := strconv.ParseFloat(m[1], 64)
		y, _ := strconv.ParseFloat(m[2], 64)
		// A glyph box: ascent 0.8 and descent 0.25 of the font size.
		w := TextWidth(m[4], 10)
		l := label{text: m[4], left: x, right: x + w, top: y - 8, bottom: y + 2.5}
		if m[3] == "hl" { // 11 px, anchored at its end
			w = TextWidth(m[4], 11)
			l = label{text: m[4], left: x - w, right: x, top: y - 8.8, bottom: y + 2.75}
		}
		labels = append(labels, l)
	}
	if len(labels) != 3 {
		t.Fatalf("%d labels drawn, want the threshold's and both events': %v", len(labels), labels)
	}
	for i := range labels {
		for j := i + 1; j < len(labels); j++ {
			a, b := labels[i], labels[j]
			if a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom {
				t.Errorf("%q (%.0f–%.0f, %.0f–%.0f) overlaps %q (%.0f–%.0f, %.0f–%.0f)", a.text, a.left, a.right, a.top, a.bottom, b.text, b.left, b.right, b.top, b.bottom)
			}
		}
	}
}
