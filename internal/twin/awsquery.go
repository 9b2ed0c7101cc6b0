package twin

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/document"
	smithytime "github.com/aws/smithy-go/time"
	"github.com/aws/smithy-go/traits"
)

// queryXML is a smithy.ShapeSerializer that writes an operation's output
// the way the awsQuery protocol (RDS, STS, SNS) answers: each member an
// element named by its @xmlName or its member name, lists wrapped with
// "member" items (or their @xmlName), @xmlFlattened lists unwrapped. The
// SDK's own output types serialize themselves through it, so the shapes —
// every element name and nesting — come from the SDK's schemas, not from a
// hand-copied struct; only the envelope is written here.
type queryXML struct {
	b     bytes.Buffer
	stack []frame
}

type frame struct {
	list       bool
	name, item string // element name, and a list's item (a map's value) name
	key, entry string // a map's key and entry element names
	flat, root bool
	entryOpen  bool // a map entry is open
}

var _ smithy.ShapeSerializer = (*queryXML)(nil)

func (s *queryXML) top() *frame {
	if len(s.stack) == 0 {
		return nil
	}
	return &s.stack[len(s.stack)-1]
}

// ename is a shape's element name: a direct @xmlName, else its member name.
func (s *queryXML) ename(schema *smithy.Schema) string {
	if t, ok := smithy.SchemaDirectTrait[*traits.XMLName](schema); ok {
		return t.Name
	}
	if len(s.stack) == 0 {
		return schema.ID().Name
	}
	return schema.MemberName()
}

// name is the element name in context: a list's items take the list's item name.
func (s *queryXML) name(schema *smithy.Schema) string {
	if t := s.top(); t != nil && t.list {
		return t.item
	}
	return s.ename(schema)
}

func (s *queryXML) open(name string)  { s.b.WriteString("<" + name + ">") }
func (s *queryXML) close(name string) { s.b.WriteString("</" + name + ">") }

func (s *queryXML) scalar(schema *smithy.Schema, text string) {
	n := s.name(schema)
	s.open(n)
	_ = xml.EscapeText(&s.b, []byte(text))
	s.close(n)
}

func (s *queryXML) Bytes() []byte { return s.b.Bytes() }

func (s *queryXML) WriteInt8(sc *smithy.Schema, v int8) {
	s.scalar(sc, strconv.FormatInt(int64(v), 10))
}
func (s *queryXML) WriteInt16(sc *smithy.Schema, v int16) {
	s.scalar(sc, strconv.FormatInt(int64(v), 10))
}
func (s *queryXML) WriteInt32(sc *smithy.Schema, v int32) {
	s.scalar(sc, strconv.FormatInt(int64(v), 10))
}
func (s *queryXML) WriteInt64(sc *smithy.Schema, v int64) { s.scalar(sc, strconv.FormatInt(v, 10)) }
func (s *queryXML) WriteFloat32(sc *smithy.Schema, v float32) {
	s.scalar(sc, strconv.FormatFloat(float64(v), 'f', -1, 32))
}
func (s *queryXML) WriteFloat64(sc *smithy.Schema, v float64) {
	s.scalar(sc, strconv.FormatFloat(v, 'f', -1, 64))
}
func (s *queryXML) WriteBool(sc *smithy.Schema, v bool)       { s.scalar(sc, strconv.FormatBool(v)) }
func (s *queryXML) WriteString(sc *smithy.Schema, v string)   { s.scalar(sc, v) }
func (s *queryXML) WriteBigInt(sc *smithy.Schema, v *big.Int) { s.scalar(sc, v.String()) }
func (s *queryXML) WriteBigFloat(sc *smithy.Schema, v *big.Float) {
	s.scalar(sc, v.Text('g', -1))
}
func (s *queryXML) WriteBlob(sc *smithy.Schema, v []byte) { s.scalar(sc, string(v)) }

// WriteTime writes date-time (the awsQuery default) unless the schema says otherwise.
func (s *queryXML) WriteTime(sc *smithy.Schema, v time.Time) {
	format := "date-time"
	if t, ok := smithy.SchemaTrait[*traits.TimestampFormat](sc); ok {
		format = t.Format
	}
	switch format {
	case "http-date":
		s.scalar(sc, smithytime.FormatHTTPDate(v))
	case "epoch-seconds":
		s.scalar(sc, strconv.FormatFloat(smithytime.FormatEpochSeconds(v), 'f', -1, 64))
	default:
		s.scalar(sc, smithytime.FormatDateTime(v))
	}
}

func (s *queryXML) WriteUnion(schema, variant *smithy.Schema) { s.WriteStruct(schema) }
func (s *queryXML) CloseUnion()                               { s.CloseStruct() }

// WriteDocument is not part of any awsQuery shape.
func (s *queryXML) WriteDocument(sc *smithy.Schema, _ document.Value) {}

// WriteNil writes nothing: an absent member is an absent element.
func (s *queryXML) WriteNil(*smithy.Schema) {}

// WriteStruct opens a structure; the output itself (the root) is wrapped
// by the envelope's <Op>Result instead.
func (s *queryXML) WriteStruct(schema *smithy.Schema) {
	if len(s.stack) == 0 {
		s.stack = append(s.stack, frame{root: true})
		return
	}
	n := s.name(schema)
	s.open(n)
	s.stack = append(s.stack, frame{name: n})
}

func (s *queryXML) CloseStruct() {
	f := s.stack[len(s.stack)-1]
	s.stack = s.stack[:len(s.stack)-1]
	if !f.root {
		s.close(f.name)
	}
}

func (s *queryXML) WriteList(schema *smithy.Schema) {
	_, flat := smithy.SchemaTrait[*traits.XMLFlattened](schema)
	n := s.name(schema)
	f := frame{list: true, name: n, item: n, flat: flat}
	if !flat {
		s.open(n)
		f.item = s.ename(schema.ListMember())
	}
	s.stack = append(s.stack, f)
}

func (s *queryXML) CloseList() {
	f := s.stack[len(s.stack)-1]
	s.stack = s.stack[:len(s.stack)-1]
	if !f.flat {
		s.close(f.name)
	}
}

// Maps, as awsQuery writes them: <name><entry><key>k</key><value>…</value></entry></name>,
// or flattened (@xmlFlattened) as one <name><key>k</key><value>…</value></name>
// per entry; key and value take their @xmlName (SQS: Name, Value).
func (s *queryXML) WriteMap(schema *smithy.Schema) {
	_, flat := smithy.SchemaTrait[*traits.XMLFlattened](schema)
	n := s.name(schema)
	f := frame{list: true, name: n, item: "value", key: "key", entry: "entry", flat: flat}
	if k := schema.MapKey(); k != nil {
		if t, ok := smithy.SchemaTrait[*traits.XMLName](k); ok {
			f.key = t.Name
		}
	}
	if v := schema.MapValue(); v != nil {
		if t, ok := smithy.SchemaTrait[*traits.XMLName](v); ok {
			f.item = t.Name
		}
	}
	if flat {
		f.entry = n
	} else {
		s.open(n)
	}
	s.stack = append(s.stack, f)
}

func (s *queryXML) WriteKey(_ *smithy.Schema, key string) {
	t := s.top()
	if t.entryOpen {
		s.close(t.entry)
	}
	s.open(t.entry)
	s.open(t.key)
	_ = xml.EscapeText(&s.b, []byte(key))
	s.close(t.key)
	t.entryOpen = true
}

func (s *queryXML) CloseMap() {
	f := s.stack[len(s.stack)-1]
	s.stack = s.stack[:len(s.stack)-1]
	if f.entryOpen {
		s.close(f.entry)
	}
	if !f.flat {
		s.close(f.name)
	}
}

// queryResponse writes the awsQuery envelope around an SDK output.
func queryResponse(w http.ResponseWriter, namespace, action string, out smithy.Serializable, requestID string) {
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write(queryBody(namespace, action, out, requestID))
}

// queryBody is the awsQuery envelope around an SDK output.
func queryBody(namespace, action string, out smithy.Serializable, requestID string) []byte {
	var body queryXML
	if out != nil {
		out.Serialize(&body)
	}
	return fmt.Appendf(nil, `<%sResponse xmlns="%s"><%sResult>%s</%sResult><ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>`,
		action, namespace, action, body.Bytes(), action, requestID, action)
}

// APIError is an error answer in any protocol: the code the SDK turns
// into its typed error (e.g. InvalidGlobalClusterStateFault) — for an
// @awsQueryCompatible service, its awsQuery code — the HTTP status and
// whether the caller (Sender) or the service (Receiver) is at fault.
type APIError struct {
	Status  int
	Code    string
	Message string
	Sender  bool
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// queryErrorResponse writes an awsQuery (or restXml) error: the code the
// SDK turns into its typed error, in the service's namespace.
func queryErrorResponse(w http.ResponseWriter, namespace string, e *APIError, requestID string) {
	typ := "Receiver"
	if e.Sender {
		typ = "Sender"
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.Status)
	xmlns := ""
	if namespace != "" {
		xmlns = ` xmlns="` + namespace + `"`
	}
	fmt.Fprintf(w, `<ErrorResponse%s><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
		xmlns, typ, esc(e.Code), esc(e.Message), requestID)
}

// queryParams reads an awsQuery form by the operation's input schema into
// the parameters its JSON body would give (member names, lists, maps,
// json.Number numbers, epoch-second timestamps), so a service that takes
// both reads one shape. The form's keys follow the awsQuery serialization
// the SDKs use: a member's @xmlName or name, lists as Name.member.N (or
// the list member's @xmlName; Name.N when @xmlFlattened), maps as
// Name.entry.N.key/value (their @xmlName; Name.N.… when flattened).
func queryParams(form url.Values, input *smithy.Schema) map[string]any {
	m, _ := queryValue(form, "", input).(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m
}

// queryValue is the value at prefix of a shape, or nil when the form has none.
func queryValue(form url.Values, prefix string, sc *smithy.Schema) any {
	join := func(a, b string) string {
		if a == "" {
			return b
		}
		return a + "." + b
	}
	under := func(p string) bool { // the form has p or something below it
		if _, ok := form[p]; ok {
			return true
		}
		for k := range form {
			if strings.HasPrefix(k, p+".") {
				return true
			}
		}
		return false
	}
	if prefix != "" && !under(prefix) {
		return nil
	}
	_, flat := smithy.SchemaTrait[*traits.XMLFlattened](sc)
	switch sc.Type() {
	case smithy.ShapeTypeStructure, smithy.ShapeTypeUnion:
		m := map[string]any{}
		for name, member := range sc.Members() {
			key := name
			if t, ok := smithy.SchemaTrait[*traits.XMLName](member); ok {
				key = t.Name
			}
			if v := queryValue(form, join(prefix, key), member); v != nil {
				m[name] = v
			}
		}
		return m
	case smithy.ShapeTypeList, smithy.ShapeTypeSet:
		item := sc.ListMember()
		base := prefix
		if !flat {
			loc := "member"
			if t, ok := smithy.SchemaTrait[*traits.XMLName](item); ok {
				loc = t.Name
			}
			base = join(prefix, loc)
		}
		l := []any{}
		for i := 1; ; i++ {
			v := queryValue(form, fmt.Sprintf("%s.%d", base, i), item)
			if v == nil {
				return l
			}
			l = append(l, v)
		}
	case smithy.ShapeTypeMap:
		keyName, valueName := "key", "value"
		if t, ok := smithy.SchemaTrait[*traits.XMLName](sc.MapKey()); ok {
			keyName = t.Name
		}
		if t, ok := smithy.SchemaTrait[*traits.XMLName](sc.MapValue()); ok {
			valueName = t.Name
		}
		base := prefix
		if !flat {
			base = join(prefix, "entry")
		}
		m := map[string]any{}
		for i := 1; ; i++ {
			entry := fmt.Sprintf("%s.%d", base, i)
			k, ok := form[entry+"."+keyName]
			if !ok || len(k) == 0 {
				return m
			}
			if v := queryValue(form, entry+"."+valueName, sc.MapValue()); v != nil {
				m[k[0]] = v
			}
		}
	}
	v := form.Get(prefix)
	switch sc.Type() {
	case smithy.ShapeTypeBoolean:
		return strings.EqualFold(v, "true")
	case smithy.ShapeTypeByte, smithy.ShapeTypeShort, smithy.ShapeTypeInteger, smithy.ShapeTypeLong, smithy.ShapeTypeIntEnum,
		smithy.ShapeTypeFloat, smithy.ShapeTypeDouble, smithy.ShapeTypeBigInteger, smithy.ShapeTypeBigDecimal:
		return json.Number(v)
	case smithy.ShapeTypeTimestamp:
		// date-time (the awsQuery default) or epoch seconds, as the JSON
		// and CBOR protocols give them: epoch seconds.
		if t, err := smithytime.ParseDateTime(v); err == nil {
			return json.Number(strconv.FormatFloat(smithytime.FormatEpochSeconds(t), 'f', -1, 64))
		}
		return json.Number(v)
	case smithy.ShapeTypeBlob:
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return []byte(v)
		}
		return b
	}
	return v
}
