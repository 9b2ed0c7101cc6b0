package twin

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
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
	name, item string // element name, and a list's (or map's) item name
	flat, root bool
	entryOpen  bool // a map entry's <entry> is open
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

// Maps, as awsQuery writes them: <name><entry><key>k</key><value>…</value></entry></name>.
func (s *queryXML) WriteMap(schema *smithy.Schema) {
	n := s.name(schema)
	s.open(n)
	s.stack = append(s.stack, frame{list: true, name: n, item: "value"})
}

func (s *queryXML) WriteKey(_ *smithy.Schema, key string) {
	t := s.top()
	if t.entryOpen {
		s.close("entry")
	}
	s.open("entry")
	s.open("key")
	_ = xml.EscapeText(&s.b, []byte(key))
	s.close("key")
	t.entryOpen = true
}

func (s *queryXML) CloseMap() {
	f := s.stack[len(s.stack)-1]
	s.stack = s.stack[:len(s.stack)-1]
	if f.entryOpen {
		s.close("entry")
	}
	s.close(f.name)
}

// queryResponse writes the awsQuery envelope around an SDK output.
func queryResponse(w http.ResponseWriter, namespace, action string, out smithy.Serializable, requestID string) {
	var body queryXML
	if out != nil {
		out.Serialize(&body)
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<%sResponse xmlns="%s"><%sResult>%s</%sResult><ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>`,
		action, namespace, action, body.Bytes(), action, requestID, action)
}

// QueryError is an awsQuery error answer: the code the SDK turns into its
// typed error (e.g. InvalidGlobalClusterStateFault), the HTTP status and
// whether the caller (Sender) or the service (Receiver) is at fault.
type APIError struct {
	Status  int
	Code    string
	Message string
	Sender  bool
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

func queryErrorResponse(w http.ResponseWriter, e *APIError, requestID string) {
	typ := "Receiver"
	if e.Sender {
		typ = "Sender"
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.Status)
	var msg bytes.Buffer
	_ = xml.EscapeText(&msg, []byte(e.Message))
	fmt.Fprintf(w, `<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
		typ, e.Code, msg.String(), requestID)
}
