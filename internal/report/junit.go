package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// JUnitFile is the JUnit report in a run directory: Ginkgo writes a
// drill's; WriteJUnit writes an observation's, which runs no suite.
const JUnitFile = "junit.xml"

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name       string          `xml:"name,attr"`
	Classname  string          `xml:"classname,attr"`
	TimeS      float64         `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Failure    *junitFailure   `xml:"failure,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the run as JUnit, one test case per scenario with its
// measures as properties (as a drill's junit.xml carries them) and its
// breaches as the failure: an observed game day in CI reads like a drill.
func (r *Report) WriteJUnit(w io.Writer) error {
	suite := junitSuite{Name: "drdrill " + r.Run.Mode + " " + r.Run.ID}
	for _, s := range r.Scenarios {
		c := junitCase{Name: s.label(), Classname: "drdrill." + s.Name, TimeS: s.DurationMs / 1000}
		for _, m := range s.Measurements {
			v := fmt.Sprint(m.Measured)
			if m.Unmeasured {
				v = "not judged: " + m.NotJudged
			}
			c.Properties = append(c.Properties, junitProperty{m.Check, v})
		}
		if s.Result != nil {
			for i, win := range s.Result.Windows {
				c.Properties = append(c.Properties, junitProperty{fmt.Sprintf("window_%d", i+1), win.Summary(i, s.Result.RTO.ResolutionMs)})
			}
		}
		var msgs []string
		for _, b := range s.Breaches {
			msgs = append(msgs, b.Message)
		}
		if s.Verdict != "pass" && s.Verdict != "flaky" {
			if len(msgs) == 0 {
				msgs = append(msgs, s.Verdict+": "+strings.Join(s.Notes, "; "))
			}
			c.Failure = &junitFailure{Message: msgs[0], Text: strings.Join(msgs, "\n")}
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, c)
	}
	if !r.Run.Complete() {
		suite.Cases = append(suite.Cases, junitCase{Name: "run", Classname: "drdrill.run", Failure: &junitFailure{Message: "not a complete run: " + r.Run.StatusLine()}})
		suite.Failures++
	}
	suite.Tests = len(suite.Cases)
	all := junitSuites{Name: suite.Name, Tests: suite.Tests, Failures: suite.Failures, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
