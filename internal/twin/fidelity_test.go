package twin

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docs/twin.md's fidelity table names, for every behaviour, the Go test
// that exercises it (or says "untested"). A renamed or deleted test would
// leave the table claiming a proof that no longer exists; this keeps the
// table and the tests from drifting apart.
func TestFidelityTableNamesRealTests(t *testing.T) {
	root := moduleRoot(t)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "twin.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := fidelityRows(string(doc))
	if err != nil {
		t.Fatalf("docs/twin.md: %v", err)
	}
	if len(rows) < 20 {
		t.Fatalf("docs/twin.md: the fidelity table has %d rows; want every behaviour the twin models (is the %q heading still there?)", len(rows), fidelityHeading)
	}
	tests := testFunctions(t, root)
	// The checker must be able to fail: a row naming a test that does not
	// exist is reported.
	if bad := missingTests([]fidelityRow{{behaviour: "self-check", test: "TestNoSuchTestAnywhere"}}, tests); len(bad) != 1 {
		t.Fatalf("the checker did not report a bogus test name: %v", bad)
	}
	for _, b := range missingTests(rows, tests) {
		t.Error(b)
	}
}

const fidelityHeading = "## Fidelity table"

type fidelityRow struct {
	behaviour, test string
}

var testName = regexp.MustCompile(`\bTest[A-Z][A-Za-z0-9_]*`)

// fidelityRows reads the table under fidelityHeading: four columns
// (behaviour | AWS source | how the twin models it | the test).
func fidelityRows(doc string) ([]fidelityRow, error) {
	_, section, ok := strings.Cut(doc, "\n"+fidelityHeading+"\n")
	if !ok {
		return nil, &tableError{"no " + fidelityHeading + " section"}
	}
	if next := strings.Index(section, "\n## "); next >= 0 {
		section = section[:next]
	}
	var rows []fidelityRow
	header := true
	for line := range strings.SplitSeq(section, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(strings.ReplaceAll(line, `\|`, "¦"), "|"), "|")
		if len(cells) != 4 {
			return nil, &tableError{"a row without 4 columns: " + line}
		}
		if header || strings.HasPrefix(strings.TrimSpace(cells[0]), "---") {
			header = false
			continue
		}
		rows = append(rows, fidelityRow{behaviour: strings.TrimSpace(cells[0]), test: strings.TrimSpace(cells[3])})
	}
	return rows, nil
}

type tableError struct{ why string }

func (e *tableError) Error() string { return e.why }

// missingTests are the rows' problems: a named test that does not exist,
// or a row that names none and does not say it is untested.
func missingTests(rows []fidelityRow, tests map[string]bool) []string {
	var bad []string
	for _, r := range rows {
		names := testName.FindAllString(r.test, -1)
		if len(names) == 0 && !strings.Contains(r.test, "untested") {
			bad = append(bad, "docs/twin.md fidelity table, "+r.behaviour+": names no test and does not say \"untested\"")
		}
		for _, n := range names {
			if !tests[n] {
				bad = append(bad, "docs/twin.md fidelity table, "+r.behaviour+": "+n+" is not a test function anywhere in the repository (renamed? name the test that exercises it, or say \"untested\")")
			}
		}
	}
	return bad
}

var testFunc = regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]*)\(`)

// testFunctions are the names of every Go test function in the module.
func testFunctions(t *testing.T, root string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && slices.Contains([]string{".git", "build", "node_modules", "testdata"}, d.Name()) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range testFunc.FindAllStringSubmatch(string(b), -1) {
			out[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// moduleRoot is the directory of the module's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
