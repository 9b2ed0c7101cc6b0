package outputs

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
)

// FromTerraformJSON flattens `terraform output -json`: strings as they are,
// numbers and bools in their usual text, lists and maps JSON-encoded.
// Sensitive outputs are left out (a flat outputs file holds no secrets) and
// named in the returned list.
func FromTerraformJSON(r io.Reader) (Outputs, []string, error) {
	var raw map[string]struct {
		Sensitive bool            `json:"sensitive"`
		Value     json.RawMessage `json:"value"`
	}
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil, nil, fmt.Errorf("not the JSON of `terraform output -json`: %v", err)
	}
	if len(raw) == 0 {
		return nil, nil, fmt.Errorf("terraform reported no outputs: is the stack applied, and is this its directory?")
	}
	o := Outputs{}
	var skipped []string
	for name, v := range raw {
		if v.Sensitive {
			skipped = append(skipped, name)
			continue
		}
		var anyv any
		if err := json.Unmarshal(v.Value, &anyv); err != nil {
			return nil, nil, fmt.Errorf("output %s: %v", name, err)
		}
		switch x := anyv.(type) {
		case string:
			o[name] = x
		case float64:
			o[name] = strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			o[name] = strconv.FormatBool(x)
		case nil:
			o[name] = ""
		default:
			b, _ := json.Marshal(x)
			o[name] = string(b)
		}
	}
	sort.Strings(skipped)
	return o, skipped, nil
}
