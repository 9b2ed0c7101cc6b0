package svgplot

import (
	"encoding/xml"
	"io"
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
