package fault

import (
	"context"
	"strings"
	"testing"
)

// A partition's control_path is cut by default; anything but cut or
// survives is refused with an error naming the parameter and both values.
func TestPartitionControlPathParameter(t *testing.T) {
	p, err := Partition{}.Resolve(context.Background(), nil, Params{})
	if err != nil || p["control_path"] != "cut" {
		t.Fatalf("default: %v, %v; want control_path=cut", p, err)
	}
	if _, err := (Partition{}).Resolve(context.Background(), nil, Params{"control_path": "maybe"}); err == nil ||
		!strings.Contains(err.Error(), `control_path="maybe"`) || !strings.Contains(err.Error(), "survives") {
		t.Fatalf("bad value: %v", err)
	}
}
