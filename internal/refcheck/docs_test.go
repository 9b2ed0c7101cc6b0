package refcheck_test

import (
	"os"
	"strings"
	"testing"

	"github.com/drdrill/drdrill/internal/check"
)

// Every measure the checker lists is defined in docs/measures.md's table
// of measures, and every measure in that table is in the list: the page
// the reference checker is written from and the list the policy, the
// report and JUnit loop over name the same measures.
func TestDocsDefineEveryMeasure(t *testing.T) {
	b, err := os.ReadFile("../../docs/measures.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "| measure | unit | what |")
	if i < 0 {
		t.Fatal("docs/measures.md has no table of measures")
	}
	table := doc[i:]
	table = table[:strings.Index(table, "\n\n")]
	inTable := map[string]bool{}
	for _, row := range strings.Split(table, "\n")[2:] {
		cells := strings.Split(row, "|")
		if len(cells) < 3 {
			continue
		}
		key := strings.Trim(strings.TrimSpace(cells[1]), "`")
		inTable[key] = true
		if _, ok := check.MeasureByKey(key); !ok {
			t.Errorf("docs/measures.md lists %s, which the checker's measure list lacks", key)
		}
	}
	for _, m := range check.Measures {
		if !inTable[m.Key] {
			t.Errorf("the checker lists %s, which docs/measures.md's table lacks", m.Key)
		}
	}
}
