// Package schemaprovider is a schema-only stand-in for the hashicorp/aws
// Terraform provider. It serves the real provider's schemas, read from a
// directory in the split `terraform providers schema -json` format, so that
// `terraform validate` and `terraform test` with mock_provider can check
// infra/aws offline: argument names, types, required arguments, block
// nesting and resource types. It creates nothing; everything else it is
// asked returns an error saying so. "Schema-validated offline" is all it
// can prove — not that AWS would accept the plan.
package schemaprovider

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

type jsonAttr struct {
	Type        json.RawMessage `json:"type"`
	Description string          `json:"description"`
	Required    bool            `json:"required"`
	Optional    bool            `json:"optional"`
	Computed    bool            `json:"computed"`
	Sensitive   bool            `json:"sensitive"`
	Deprecated  bool            `json:"deprecated"`
	WriteOnly   bool            `json:"write_only"`
}

type jsonBlockType struct {
	NestingMode string    `json:"nesting_mode"`
	Block       jsonBlock `json:"block"`
	MinItems    int64     `json:"min_items"`
	MaxItems    int64     `json:"max_items"`
}

type jsonBlock struct {
	Attributes  map[string]jsonAttr      `json:"attributes"`
	BlockTypes  map[string]jsonBlockType `json:"block_types"`
	Description string                   `json:"description"`
	Deprecated  bool                     `json:"deprecated"`
}

type jsonSchema struct {
	Version int64     `json:"version"`
	Block   jsonBlock `json:"block"`
}

// ctyType converts a cty type in JSON form to a tftypes.Type.
func ctyType(raw json.RawMessage) (tftypes.Type, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "string":
			return tftypes.String, nil
		case "number":
			return tftypes.Number, nil
		case "bool":
			return tftypes.Bool, nil
		case "dynamic":
			return tftypes.DynamicPseudoType, nil
		}
		return nil, fmt.Errorf("unknown primitive type %q", s)
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil || len(parts) < 2 {
		return nil, fmt.Errorf("bad type %s", raw)
	}
	var kind string
	if err := json.Unmarshal(parts[0], &kind); err != nil {
		return nil, err
	}
	switch kind {
	case "list", "set", "map":
		el, err := ctyType(parts[1])
		if err != nil {
			return nil, err
		}
		switch kind {
		case "list":
			return tftypes.List{ElementType: el}, nil
		case "set":
			return tftypes.Set{ElementType: el}, nil
		}
		return tftypes.Map{ElementType: el}, nil
	case "object":
		var attrs map[string]json.RawMessage
		if err := json.Unmarshal(parts[1], &attrs); err != nil {
			return nil, err
		}
		o := tftypes.Object{AttributeTypes: map[string]tftypes.Type{}}
		for k, v := range attrs {
			t, err := ctyType(v)
			if err != nil {
				return nil, err
			}
			o.AttributeTypes[k] = t
		}
		if len(parts) > 2 {
			var optional []string
			if json.Unmarshal(parts[2], &optional) == nil && len(optional) > 0 {
				o.OptionalAttributes = map[string]struct{}{}
				for _, k := range optional {
					o.OptionalAttributes[k] = struct{}{}
				}
			}
		}
		return o, nil
	case "tuple":
		var elems []json.RawMessage
		if err := json.Unmarshal(parts[1], &elems); err != nil {
			return nil, err
		}
		t := tftypes.Tuple{}
		for _, e := range elems {
			et, err := ctyType(e)
			if err != nil {
				return nil, err
			}
			t.ElementTypes = append(t.ElementTypes, et)
		}
		return t, nil
	}
	return nil, fmt.Errorf("unknown type kind %q", kind)
}

func nesting(mode string) (tfprotov5.SchemaNestedBlockNestingMode, error) {
	switch mode {
	case "single":
		return tfprotov5.SchemaNestedBlockNestingModeSingle, nil
	case "list":
		return tfprotov5.SchemaNestedBlockNestingModeList, nil
	case "set":
		return tfprotov5.SchemaNestedBlockNestingModeSet, nil
	case "map":
		return tfprotov5.SchemaNestedBlockNestingModeMap, nil
	case "group":
		return tfprotov5.SchemaNestedBlockNestingModeGroup, nil
	}
	return 0, fmt.Errorf("unknown nesting mode %q", mode)
}

func convertBlock(b jsonBlock) (*tfprotov5.SchemaBlock, error) {
	out := &tfprotov5.SchemaBlock{Description: b.Description, Deprecated: b.Deprecated}
	for name, a := range b.Attributes {
		t, err := ctyType(a.Type)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", name, err)
		}
		out.Attributes = append(out.Attributes, &tfprotov5.SchemaAttribute{Name: name, Type: t, Description: a.Description,
			Required: a.Required, Optional: a.Optional, Computed: a.Computed, Sensitive: a.Sensitive, Deprecated: a.Deprecated, WriteOnly: a.WriteOnly})
	}
	for name, bt := range b.BlockTypes {
		mode, err := nesting(bt.NestingMode)
		if err != nil {
			return nil, fmt.Errorf("block %s: %w", name, err)
		}
		inner, err := convertBlock(bt.Block)
		if err != nil {
			return nil, fmt.Errorf("block %s: %w", name, err)
		}
		out.BlockTypes = append(out.BlockTypes, &tfprotov5.SchemaNestedBlock{TypeName: name, Block: inner, Nesting: mode, MinItems: bt.MinItems, MaxItems: bt.MaxItems})
	}
	return out, nil
}

func loadSchema(path string) (*tfprotov5.Schema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s jsonSchema
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	blk, err := convertBlock(s.Block)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &tfprotov5.Schema{Version: s.Version, Block: blk}, nil
}

// Schemas are the provider's schemas by kind and type name.
type Schemas struct {
	Provider           *tfprotov5.Schema
	Resources          map[string]*tfprotov5.Schema
	DataSources        map[string]*tfprotov5.Schema
	EphemeralResources map[string]*tfprotov5.Schema
}

// Load reads a schema directory (provider/block.json, resource_schemas/,
// data_source_schemas/, ephemeral_resource_schemas/).
func Load(dir string) (*Schemas, error) {
	if _, err := os.Stat(filepath.Join(dir, "provider", "block.json")); err != nil {
		return nil, fmt.Errorf("%s is not a provider schema directory (no provider/block.json): set DRDRILL_AWS_SCHEMA_DIR to ../shared/aws-provider-schema/6.19.0", dir)
	}
	pb, err := os.ReadFile(filepath.Join(dir, "provider", "block.json"))
	if err != nil {
		return nil, err
	}
	var blk jsonBlock
	if err := json.Unmarshal(pb, &blk); err != nil {
		return nil, fmt.Errorf("provider/block.json: %w", err)
	}
	provider, err := convertBlock(blk)
	if err != nil {
		return nil, err
	}
	s := &Schemas{Provider: &tfprotov5.Schema{Block: provider}}
	for kind, dst := range map[string]*map[string]*tfprotov5.Schema{
		"resource_schemas": &s.Resources, "data_source_schemas": &s.DataSources, "ephemeral_resource_schemas": &s.EphemeralResources} {
		*dst = map[string]*tfprotov5.Schema{}
		files, _ := filepath.Glob(filepath.Join(dir, kind, "*.json"))
		for _, f := range files {
			sc, err := loadSchema(f)
			if err != nil {
				return nil, err
			}
			(*dst)[strings.TrimSuffix(filepath.Base(f), ".json")] = sc
		}
	}
	return s, nil
}
