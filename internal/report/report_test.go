package report

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	junit "github.com/joshdk/go-junit"
	"golang.org/x/net/html"

	"github.com/drdrill/drdrill/internal/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const fixture = "testdata/run/20261129T102824Z"

// copyRun copies the fixed run into a temp reports/ directory.
func copyRun(t *testing.T) string {
	t.Helper()
	reports := t.TempDir()
	dst := filepath.Join(reports, filepath.Base(fixture))
	if err := os.CopyFS(dst, os.DirFS(fixture)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./internal/report -update` once)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; if the change is intended, rerun with -update\n--- got (first 600 bytes)\n%s", name, got[:min(600, len(got))])
	}
}

func TestGoldenSummaryAndJSON(t *testing.T) {
	dir := copyRun(t)
	r, err := Build(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != "pass" || len(r.Scenarios) != 2 || r.Partial || r.Run.Seed != 48106 {
		t.Fatalf("verdict %s, %d scenarios, partial %v %v", r.Verdict, len(r.Scenarios), r.Partial, r.PartialReasons)
	}
	var md bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	golden(t, "summary.md", md.Bytes())
	js, err := marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "report.json", js)
}

func TestHTMLIsSelfContainedAndWellFormed(t *testing.T) {
	dir := copyRun(t)
	r, err := Build(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := Render(dir, r); err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{filepath.Join(dir, HTMLFile), filepath.Join(filepath.Dir(dir), HTMLFile)} {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		checkSelfContained(t, page, b)
	}
	// The JSON written is the JSON loaded.
	if _, err := Load(filepath.Join(dir, JSONFile)); err != nil {
		t.Fatal(err)
	}
}

func checkSelfContained(t *testing.T, name string, b []byte) {
	t.Helper()
	z := html.NewTokenizer(bytes.NewReader(b))
	var stack []string
	void := map[string]bool{"meta": true, "br": true, "img": true, "link": true, "input": true, "hr": true}
	svgLeaf := map[string]bool{}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if len(stack) != 0 {
				t.Fatalf("%s: unclosed elements %v", name, stack)
			}
			return
		case html.StartTagToken, html.SelfClosingTagToken:
			tn, hasAttr := z.TagName()
			tag := string(tn)
			switch tag {
			case "script", "link", "img", "iframe", "object", "embed":
				t.Fatalf("%s: <%s> element: the report must not load anything", name, tag)
			}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				val := string(v)
				if (string(k) == "src" || string(k) == "href") && (strings.Contains(val, "//") || strings.HasPrefix(val, "data:")) {
					t.Fatalf("%s: external reference %s=%q", name, k, val)
				}
			}
			if tt == html.StartTagToken && !void[tag] && !svgLeaf[tag] {
				stack = append(stack, tag)
			}
		case html.EndTagToken:
			tn, _ := z.TagName()
			if len(stack) == 0 || stack[len(stack)-1] != string(tn) {
				t.Fatalf("%s: </%s> closes %v", name, tn, stack)
			}
			stack = stack[:len(stack)-1]
		case html.TextToken:
			if bytes.Contains(z.Text(), []byte("@import")) || bytes.Contains(z.Text(), []byte("url(")) {
				t.Fatalf("%s: CSS loads something", name)
			}
		}
	}
}

func TestStricterPolicyFailsTheSameRun(t *testing.T) {
	dir := copyRun(t)
	p, err := policy.Parse([]byte("version: 1\nscenarios:\n  region-outage:\n    rpo_lost_writes: 0\n    rto_ms: 100\n"), "strict.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Build(dir, &p)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != "fail" || len(r.Scenarios[0].Breaches) != 2 {
		t.Fatalf("verdict %s breaches %+v", r.Verdict, r.Scenarios[0].Breaches)
	}
}

func TestBadInputs(t *testing.T) {
	t.Run("truncated history gives a partial report", func(t *testing.T) {
		dir := copyRun(t)
		p := filepath.Join(dir, "region-outage", "history.jsonl")
		b, _ := os.ReadFile(p)
		os.WriteFile(p, b[:len(b)-40], 0o644) // cut the last line mid-way
		r, err := Build(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Partial || !strings.Contains(strings.Join(r.PartialReasons, " "), "cut off") {
			t.Fatalf("partial %v %v", r.Partial, r.PartialReasons)
		}
		var md bytes.Buffer
		r.WriteMarkdown(&md)
		if !strings.Contains(md.String(), "Partial report") {
			t.Fatalf("summary does not say partial:\n%s", md.String())
		}
	})
	t.Run("corrupt history marks the scenario unreadable", func(t *testing.T) {
		dir := copyRun(t)
		os.WriteFile(filepath.Join(dir, "steady-state", "history.jsonl"), []byte("{\"t\":\"meta\",\"version\":1}\ngarbage\n{}\n"), 0o644)
		r, err := Build(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict != "fail" || !r.Partial {
			t.Fatalf("verdict %s partial %v", r.Verdict, r.Partial)
		}
	})
	t.Run("missing ledger is a note", func(t *testing.T) {
		dir := copyRun(t)
		os.RemoveAll(filepath.Join(dir, "lab"))
		r, err := Build(dir, nil)
		if err != nil || r.Partial || !strings.Contains(strings.Join(r.Notes, " "), "no fault ledger") {
			t.Fatalf("%v partial %v notes %v", err, r.Partial, r.Notes)
		}
	})
	t.Run("unknown schema version", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), JSONFile)
		os.WriteFile(p, []byte(`{"schema":"drdrill.report/v9"}`), 0o644)
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "drdrill.report/v9") || !strings.Contains(err.Error(), "drdrill report") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("empty reports directory", func(t *testing.T) {
		dir := t.TempDir()
		runs, err := RenderIndex(dir)
		if err != nil || len(runs) != 0 {
			t.Fatal(runs, err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, HTMLFile))
		if !strings.Contains(string(b), "No runs here yet") {
			t.Fatal("empty index does not say so")
		}
	})
	t.Run("not a run directory", func(t *testing.T) {
		if _, err := Build(t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "no scenario histories") {
			t.Fatalf("%v", err)
		}
		if _, err := Build("/nonexistent/run", nil); err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("%v", err)
		}
	})
}

// The JUnit file Ginkgo 2.34 wrote in a real drill parses with a JUnit
// consumer library, and carries the measured values as testcase properties
// (go-junit v1.0.0 does not read testcase <properties>, so those are read
// with encoding/xml).
func TestJUnitFromARealDrillParses(t *testing.T) {
	suites, err := junit.IngestFile("testdata/junit.xml")
	if err != nil {
		t.Fatal(err)
	}
	tests, passed := 0, 0
	for _, s := range suites {
		for _, tc := range s.Tests {
			tests++
			if tc.Status == junit.StatusPassed {
				passed++
			}
		}
	}
	if tests < 4 || passed != tests-countSkipped(suites) {
		t.Fatalf("%d testcases, %d passed", tests, passed)
	}
	b, _ := os.ReadFile("testdata/junit.xml")
	var doc struct {
		Suites []struct {
			Cases []struct {
				Name  string `xml:"name,attr"`
				Props []struct {
					Name  string `xml:"name,attr"`
					Value string `xml:"value,attr"`
				} `xml:"properties>property"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			for _, p := range c.Props {
				found[p.Name] = p.Value
			}
		}
	}
	for _, want := range []string{"rpo_lost_writes", "rpo_ms", "rto_ms", "lag_p99_ms", "detect_ms", "promote_ms"} {
		if _, ok := found[want]; !ok {
			t.Errorf("no testcase property %s", want)
		}
	}
}

func countSkipped(suites []junit.Suite) int {
	n := 0
	for _, s := range suites {
		for _, tc := range s.Tests {
			if tc.Status == junit.StatusSkipped {
				n++
			}
		}
	}
	return n
}
