package twin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/smithy-go"
	smithycbor "github.com/aws/smithy-go/encoding/cbor"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
	"github.com/aws/smithy-go/transport/http/protocol/rpcv2"
)

// call is one AWS API request as the twin routes it. AWS tells services
// and regions apart by endpoint; behind one AWS_ENDPOINT_URL the twin reads
// both from the SigV4 credential scope that every SDK request is signed
// with (…/20261129/us-west-2/rds/aws4_request), as LocalStack does.
type call struct {
	Service, Region, Action string
	// Protocol is the one the request came in, and its answer goes out in.
	Protocol protocol
	// Form is an awsQuery or ec2Query request's parameters. Params is a
	// JSON or CBOR request's decoded body, a REST request's path labels
	// and body, or — for a service that also takes JSON or CBOR — an
	// awsQuery form read by the operation's input schema.
	Form   url.Values
	Params map[string]any
	// Query and Header are a REST request's query string and headers.
	Query  url.Values
	Header http.Header
	ReqID  string
}

// signingScope returns the region and service of a SigV4-signed request.
func signingScope(r *http.Request) (region, service string, ok bool) {
	auth := r.Header.Get("Authorization")
	_, cred, found := strings.Cut(auth, "Credential=")
	if !found {
		return "", "", false
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return "", "", false
	}
	return parts[2], parts[3], true
}

// accessKey is the access key id a request is signed with.
func accessKey(r *http.Request) string {
	_, cred, found := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	if !found {
		return ""
	}
	key, _, _ := strings.Cut(cred, "/")
	return strings.TrimSpace(key)
}

// protocol is an AWS wire protocol: how a request arrives and its answer
// and errors are written.
type protocol int

const (
	awsQuery protocol = iota
	ec2Query
	awsJSON10
	awsJSON11
	rpcv2CBOR
	restJSON1
	restXML
)

func (p protocol) String() string {
	return [...]string{"awsQuery", "ec2Query", "awsJson1_0", "awsJson1_1", "rpcv2Cbor", "restJson1", "restXml"}[p]
}

// detectProtocol tells a request's protocol from the request itself, as
// AWS does for a service that accepts several (CloudWatch: awsQuery,
// awsJson1_0, rpcv2Cbor; SQS: awsQuery, awsJson1_0): the Smithy-Protocol
// header of rpcv2Cbor, the X-Amz-Target of awsJson (its Content-Type
// giving the version), a form with Action of awsQuery (ec2Query for EC2);
// anything else is the service's REST protocol. svc may be nil (a request
// for no service the twin knows).
func detectProtocol(r *http.Request, svc *service) protocol {
	ct := r.Header.Get("Content-Type")
	switch {
	case strings.EqualFold(r.Header.Get("Smithy-Protocol"), "rpc-v2-cbor"):
		return rpcv2CBOR
	case r.Header.Get("X-Amz-Target") != "":
		if strings.Contains(ct, "json-1.1") {
			return awsJSON11
		}
		return awsJSON10
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded") || r.URL.Query().Has("Action"):
		if svc != nil && svc.accepts(ec2Query) {
			return ec2Query
		}
		return awsQuery
	}
	if svc != nil {
		for _, p := range svc.protocols {
			if p == restJSON1 || p == restXML {
				return p
			}
		}
		if len(svc.protocols) > 0 {
			return svc.protocols[0]
		}
	}
	return awsQuery
}

// unknownOperation is the answer to a request the service cannot read as
// any of its operations.
func unknownOperation(p protocol, format string, a ...any) *APIError {
	code := "UnknownOperationException"
	if p == awsQuery || p == ec2Query {
		code = "InvalidAction"
	}
	return &APIError{Status: http.StatusBadRequest, Code: code, Sender: true, Message: fmt.Sprintf(format, a...)}
}

// decodeCall reads the action and parameters of r in protocol p.
func decodeCall(r *http.Request, p protocol, svc *service) (*call, *APIError) {
	c := &call{Protocol: p}
	bad := func(format string, a ...any) *APIError {
		return &APIError{Status: http.StatusBadRequest, Code: "SerializationException", Sender: true, Message: fmt.Sprintf(format, a...)}
	}
	switch p {
	case awsQuery, ec2Query:
		if err := r.ParseForm(); err != nil {
			return nil, &APIError{Status: http.StatusBadRequest, Code: "MalformedQueryString", Sender: true,
				Message: fmt.Sprintf("the %s form cannot be read: %v", p, err)}
		}
		c.Form, c.Action = r.Form, r.Form.Get("Action")
		if c.Action == "" {
			return nil, &APIError{Status: http.StatusBadRequest, Code: "MissingAction", Sender: true, Message: "the request has no Action"}
		}
		if in, ok := svc.queryInputs[c.Action]; ok {
			c.Params = queryParams(c.Form, in)
		}
		return c, nil
	case awsJSON10, awsJSON11:
		// X-Amz-Target: AmazonSQS.ReceiveMessage, secretsmanager.GetSecretValue
		_, c.Action, _ = strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return nil, bad("read body: %v", err)
		}
		if c.Params, err = jsonObject(body); err != nil {
			return nil, bad("the body is not a JSON object: %v", err)
		}
		return c, nil
	case rpcv2CBOR:
		// POST /service/GraniteServiceVersion20100801/operation/DescribeAlarms
		i := strings.LastIndex(r.URL.Path, "/operation/")
		if i < 0 {
			return nil, bad("rpcv2Cbor path %q lacks /operation/", r.URL.Path)
		}
		c.Action = r.URL.Path[i+len("/operation/"):]
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return nil, bad("read body: %v", err)
		}
		c.Params = map[string]any{}
		if len(body) > 0 {
			v, err := smithycbor.Decode(body)
			if err != nil {
				return nil, bad("the body is not CBOR: %v", err)
			}
			m, ok := fromCBOR(v).(map[string]any)
			if !ok {
				return nil, bad("the CBOR body is not a map")
			}
			c.Params = m
		}
		return c, nil
	case restJSON1, restXML:
		c.Query, c.Header = r.URL.Query(), r.Header
		for _, rt := range svc.routes {
			params, ok := rt.match(r.Method, r.URL.EscapedPath(), c.Query)
			if !ok {
				continue
			}
			limit := int64(6 << 20)
			if svc.maxBody > 0 {
				limit = svc.maxBody
			}
			body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
			if err != nil {
				return nil, bad("read body: %v", err)
			}
			if int64(len(body)) > limit {
				return nil, &APIError{Status: http.StatusRequestEntityTooLarge, Code: "EntityTooLarge", Sender: true,
					Message: fmt.Sprintf("the request body is larger than the %d bytes the twin's %s takes", limit, svc.name)}
			}
			c.Action, c.Params = rt.action, map[string]any{}
			switch {
			case rt.payload != "":
				c.Params[rt.payload] = body
			case p == restJSON1:
				if c.Params, err = jsonObject(body); err != nil {
					return nil, bad("the body is not a JSON object: %v", err)
				}
			}
			for k, v := range params {
				c.Params[k] = v
			}
			return c, nil
		}
		return nil, &APIError{Status: http.StatusNotFound, Code: "UnknownOperationException", Sender: true,
			Message: fmt.Sprintf("the drdrill AWS twin models no %s operation at %s %s", svc.name, r.Method, r.URL.Path)}
	}
	return nil, bad("unknown protocol %v", p)
}

// jsonObject decodes a JSON object body (empty: no parameters), numbers
// kept as json.Number.
func jsonObject(body []byte) (map[string]any, error) {
	m := map[string]any{}
	if len(bytes.TrimSpace(body)) == 0 {
		return m, nil
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

func pathUnescape(s string) (string, error) { return url.PathUnescape(s) }

// fromCBOR turns a decoded CBOR value into the shapes encoding/json gives
// (maps, slices, strings, json.Number, bools), so handlers read both alike.
func fromCBOR(v smithycbor.Value) any {
	switch v := v.(type) {
	case smithycbor.Map:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = fromCBOR(e)
		}
		return m
	case smithycbor.List:
		l := make([]any, len(v))
		for i, e := range v {
			l[i] = fromCBOR(e)
		}
		return l
	case smithycbor.String:
		return string(v)
	case smithycbor.Uint:
		return json.Number(fmt.Sprint(uint64(v)))
	case smithycbor.NegInt:
		return json.Number(fmt.Sprintf("-%d", uint64(v)))
	case smithycbor.Float32:
		return json.Number(fmt.Sprint(float32(v)))
	case smithycbor.Float64:
		return json.Number(fmt.Sprint(float64(v)))
	case smithycbor.Bool:
		return bool(v)
	case smithycbor.Slice:
		return []byte(v)
	case *smithycbor.Tag:
		// Timestamps are tag 1 around epoch seconds.
		return fromCBOR(v.Value)
	}
	return nil
}

// str, strs and num read request parameters.
func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func strs(m map[string]any, key string) []string {
	l, _ := m[key].([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// encodeBody writes out in a client protocol's encoding: the SDK's own
// request serializer runs over the output value (its Serialize method and
// schema), so the JSON or CBOR of every answer comes from the SDK's
// encoder and the SDK's shapes, not from a copy kept here.
func encodeBody(p smithyhttp.ClientProtocol, out smithy.Serializable) ([]byte, error) {
	placeholder := smithy.NewSchema(smithy.ShapeID{Namespace: "drdrill.twin", Name: "Answer"}, smithy.ShapeTypeStructure, 0)
	op := smithy.NewOperationSchema(smithy.NewSchema(smithy.ShapeID{Namespace: "drdrill.twin", Name: "Answer"}, smithy.ShapeTypeOperation, 0), placeholder, nil)
	req := smithyhttp.NewStackRequest().(*smithyhttp.Request)
	if err := p.SerializeRequest(context.Background(), op, out, req); err != nil {
		return nil, err
	}
	s := req.GetStream()
	if s == nil {
		return nil, nil
	}
	return io.ReadAll(s)
}

// encoders are the SDK's protocol implementations, used for their encoders.
var (
	serviceSchema = smithy.NewServiceSchema(smithy.NewSchema(smithy.ShapeID{Namespace: "drdrill.twin", Name: "Twin"}, smithy.ShapeTypeService, 0), "")
	jsonEncoder   = awsjson.New11(serviceSchema)
	cborEncoder   = rpcv2.NewCBOR(serviceSchema)
)

// xmlDocument is an answer a service writes whole, for the services whose
// SDK clients have no schema serializers yet (EC2, Route 53): the element
// names are those the SDK's deserializers read, and every such operation
// is round-tripped through the real client in the tests.
type xmlDocument []byte

// Serialize writes nothing: the document is sent as it is.
func (xmlDocument) Serialize(smithy.ShapeSerializer) {}

// httpAnswer is an answer of a REST operation whose output has HTTP
// bindings (a status, @httpHeader members, a raw @httpPayload — S3's
// GetObject, Lambda's Invoke): the handler sets them; Body, if not nil,
// is sent as it is, else Output in the call's protocol.
type httpAnswer struct {
	Status int
	Header http.Header
	Body   []byte
	Output smithy.Serializable
}

// Serialize writes nothing: respond writes the answer's parts.
func (httpAnswer) Serialize(smithy.ShapeSerializer) {}

var contentTypes = map[protocol]string{awsQuery: "text/xml", ec2Query: "text/xml", restXML: "text/xml",
	awsJSON10: "application/x-amz-json-1.0", awsJSON11: "application/x-amz-json-1.1", restJSON1: "application/json",
	rpcv2CBOR: "application/cbor"}

// respond writes a successful answer in the call's protocol.
func respond(w http.ResponseWriter, svc *service, c *call, out smithy.Serializable) {
	h := w.Header()
	h.Set("Content-Type", contentTypes[c.Protocol])
	h.Set("X-Amzn-RequestId", c.ReqID)
	status := http.StatusOK
	if a, ok := out.(httpAnswer); ok {
		for k, v := range a.Header {
			h[k] = v
		}
		if a.Status != 0 {
			status = a.Status
		}
		out = a.Output
		if a.Body != nil || a.Output == nil {
			w.WriteHeader(status)
			_, _ = w.Write(a.Body)
			return
		}
	}
	body, err := encodeAnswer(svc, c, out)
	if err != nil {
		respondError(w, svc, c, &APIError{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: err.Error()})
		return
	}
	if c.Protocol == rpcv2CBOR {
		h.Set("Smithy-Protocol", "rpc-v2-cbor")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// encodeAnswer is an output's body in the call's protocol.
func encodeAnswer(svc *service, c *call, out smithy.Serializable) ([]byte, error) {
	if doc, ok := out.(xmlDocument); ok {
		return doc, nil
	}
	switch c.Protocol {
	case awsQuery:
		return queryBody(svc.namespace(), c.Action, out, c.ReqID), nil
	case awsJSON10, awsJSON11, restJSON1:
		// restJson1 answers of the modelled Lambda operations have no HTTP
		// bindings: the body is the output's members as JSON.
		body, err := encodeBody(jsonEncoder, out)
		if err == nil && len(body) == 0 {
			body = []byte("{}")
		}
		return body, err
	case rpcv2CBOR:
		body, err := encodeBody(cborEncoder, out)
		if err == nil && len(body) == 0 {
			body = smithycbor.Encode(smithycbor.Map{})
		}
		return body, err
	}
	return nil, fmt.Errorf("%s answers are written by the service as XML documents", c.Protocol)
}

// respondError writes an error answer in the call's protocol, with the
// code where each protocol's clients look for it. A JSON or CBOR error of
// an @awsQueryCompatible service (CloudWatch, SQS) carries the modelled
// error type in the body and the awsQuery code in X-Amzn-Query-Error, as
// AWS answers them (Smithy, "aws.protocols#awsQueryCompatible").
func respondError(w http.ResponseWriter, svc *service, c *call, e *APIError) {
	h := w.Header()
	h.Set("Content-Type", contentTypes[c.Protocol])
	h.Set("X-Amzn-RequestId", c.ReqID)
	ns := ""
	if svc != nil {
		ns = svc.namespace()
	}
	switch c.Protocol {
	case awsQuery, restXML:
		if svc != nil && svc.unwrappedErrors {
			w.WriteHeader(e.Status)
			fmt.Fprintf(w, `<Error><Code>%s</Code><Message>%s</Message><RequestId>%s</RequestId></Error>`, esc(e.Code), esc(e.Message), c.ReqID)
			return
		}
		queryErrorResponse(w, ns, e, c.ReqID)
	case ec2Query:
		ec2ErrorResponse(w, e, c.ReqID)
	case awsJSON10, awsJSON11, restJSON1, rpcv2CBOR:
		typ := e.Code
		if svc != nil && svc.queryCompatible() {
			fault := "Receiver"
			if e.Sender {
				fault = "Sender"
			}
			h.Set("X-Amzn-Query-Error", e.Code+";"+fault)
			typ = svc.modelledError(e.Code)
		}
		h.Set("X-Amzn-ErrorType", typ)
		if c.Protocol == rpcv2CBOR {
			h.Set("Smithy-Protocol", "rpc-v2-cbor")
			w.WriteHeader(e.Status)
			_, _ = w.Write(smithycbor.Encode(smithycbor.Map{"__type": smithycbor.String(typ), "message": smithycbor.String(e.Message)}))
			return
		}
		w.WriteHeader(e.Status)
		b, _ := json.Marshal(map[string]string{"__type": typ, "message": e.Message})
		_, _ = w.Write(b)
	}
}
