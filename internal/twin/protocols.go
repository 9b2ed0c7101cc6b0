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
	// Form is an awsQuery request's parameters; Params a JSON or CBOR
	// request's decoded body.
	Form   url.Values
	Params map[string]any
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

// Protocols: how a service's requests arrive and its answers are written.
type protocol int

const (
	awsQuery protocol = iota
	awsJSON10
	awsJSON11
	rpcv2CBOR
	restJSON1
)

// serviceProtocol is each modelled service's wire protocol, as its SDK
// client speaks it (service/*/api_client.go: options.Protocol).
var serviceProtocol = map[string]protocol{
	"rds": awsQuery, "sts": awsQuery, "sns": awsQuery, "ec2": awsQuery, // ec2Query requests are awsQuery's form
	"monitoring":     rpcv2CBOR,
	"secretsmanager": awsJSON11,
	"sqs":            awsJSON10,
	"lambda":         restJSON1,
}

// lambdaRoutes maps the Lambda API's REST paths (restJson1 @http traits)
// to operations: method and the path with {FunctionName} cut out.
var lambdaRoutes = map[string]string{
	"GET /2019-09-30/functions/*/concurrency":    "GetFunctionConcurrency",
	"PUT /2017-10-31/functions/*/concurrency":    "PutFunctionConcurrency",
	"DELETE /2017-10-31/functions/*/concurrency": "DeleteFunctionConcurrency",
	"POST /2015-03-31/functions/*/invocations":   "Invoke",
	"GET /2015-03-31/functions/*/configuration":  "GetFunctionConfiguration",
}

// decodeCall reads the action and parameters of r in protocol p.
func decodeCall(r *http.Request, p protocol) (*call, *APIError) {
	c := &call{}
	bad := func(format string, a ...any) *APIError {
		return &APIError{Status: http.StatusBadRequest, Code: "SerializationException", Sender: true, Message: fmt.Sprintf(format, a...)}
	}
	switch p {
	case awsQuery:
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
			return nil, &APIError{Status: http.StatusBadRequest, Code: "MalformedQueryString", Sender: true,
				Message: "awsQuery requests are form-encoded POSTs"}
		}
		c.Form, c.Action = r.PostForm, r.PostForm.Get("Action")
		return c, nil
	case awsJSON10, awsJSON11:
		// X-Amz-Target: AmazonSQS.ReceiveMessage, secretsmanager.GetSecretValue
		_, c.Action, _ = strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return nil, bad("read body: %v", err)
		}
		c.Params = map[string]any{}
		if len(bytes.TrimSpace(body)) > 0 {
			d := json.NewDecoder(bytes.NewReader(body))
			d.UseNumber()
			if err := d.Decode(&c.Params); err != nil {
				return nil, bad("the body is not a JSON object: %v", err)
			}
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
	case restJSON1:
		// /2019-09-30/functions/NAME/concurrency
		parts := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
		if len(parts) != 4 || parts[1] != "functions" {
			return nil, &APIError{Status: http.StatusNotFound, Code: "UnknownOperationException", Sender: true, Message: "no route for " + r.URL.Path}
		}
		name, err := url.PathUnescape(parts[2])
		if err != nil {
			return nil, bad("function name in %q: %v", r.URL.Path, err)
		}
		op, ok := lambdaRoutes[r.Method+" /"+parts[0]+"/functions/*/"+parts[3]]
		if !ok {
			return nil, &APIError{Status: http.StatusNotFound, Code: "UnknownOperationException", Sender: true, Message: "no route for " + r.Method + " " + r.URL.Path}
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 6<<20))
		if err != nil {
			return nil, bad("read body: %v", err)
		}
		c.Action, c.Params = op, map[string]any{}
		if op == "Invoke" {
			c.Params["Payload"] = body
		} else if len(bytes.TrimSpace(body)) > 0 {
			d := json.NewDecoder(bytes.NewReader(body))
			d.UseNumber()
			if err := d.Decode(&c.Params); err != nil {
				return nil, bad("the body is not a JSON object: %v", err)
			}
		}
		c.Params["FunctionName"] = name
		return c, nil
	}
	return nil, bad("unknown protocol")
}

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

// respond writes a successful answer in protocol p.
func respond(w http.ResponseWriter, p protocol, c *call, namespace string, out smithy.Serializable) {
	switch p {
	case awsQuery:
		queryResponse(w, namespace, c.Action, out, c.ReqID)
		return
	case awsJSON10, awsJSON11, restJSON1:
		// restJson1 answers of the modelled Lambda operations have no HTTP
		// bindings: the body is the output's members as JSON.
		body, err := encodeBody(jsonEncoder, out)
		if err != nil {
			respondError(w, p, c, &APIError{Status: 500, Code: "InternalFailure", Message: err.Error()})
			return
		}
		if len(body) == 0 {
			body = []byte("{}")
		}
		w.Header().Set("Content-Type", map[protocol]string{awsJSON10: "application/x-amz-json-1.0", awsJSON11: "application/x-amz-json-1.1", restJSON1: "application/json"}[p])
		w.Header().Set("X-Amzn-RequestId", c.ReqID)
		_, _ = w.Write(body)
	case rpcv2CBOR:
		body, err := encodeBody(cborEncoder, out)
		if err != nil {
			respondError(w, p, c, &APIError{Status: 500, Code: "InternalFailure", Message: err.Error()})
			return
		}
		if len(body) == 0 {
			body = smithycbor.Encode(smithycbor.Map{})
		}
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		w.Header().Set("Content-Type", "application/cbor")
		w.Header().Set("X-Amzn-RequestId", c.ReqID)
		_, _ = w.Write(body)
	}
}

// respondError writes an error answer in protocol p, with the code where
// each protocol's SDK deserializer looks for it.
func respondError(w http.ResponseWriter, p protocol, c *call, e *APIError) {
	switch p {
	case awsQuery:
		queryErrorResponse(w, e, c.ReqID)
	case awsJSON10, awsJSON11, restJSON1:
		code := e.Code
		if q, ok := strings.CutPrefix(e.Code, "AWS.SimpleQueueService."); ok {
			// SQS is awsQuery-compatible: the modelled error type in the
			// body, the query code the SDK reports in X-Amzn-Query-Error.
			w.Header().Set("X-Amzn-Query-Error", e.Code+";Sender")
			code = map[string]string{"NonExistentQueue": "QueueDoesNotExist"}[q]
			if code == "" {
				code = q
			}
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", code)
		w.Header().Set("X-Amzn-RequestId", c.ReqID)
		w.WriteHeader(e.Status)
		b, _ := json.Marshal(map[string]string{"__type": code, "message": e.Message})
		_, _ = w.Write(b)
	case rpcv2CBOR:
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		w.Header().Set("Content-Type", "application/cbor")
		w.Header().Set("X-Amzn-RequestId", c.ReqID)
		w.WriteHeader(e.Status)
		_, _ = w.Write(smithycbor.Encode(smithycbor.Map{"__type": smithycbor.String(e.Code), "message": smithycbor.String(e.Message)}))
	}
}

// unmodelled is the answer to an operation the twin does not model.
func unmodelled(c *call) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: "InvalidAction", Sender: true,
		Message: fmt.Sprintf("the drdrill AWS twin does not model %s %s", c.Service, c.Action)}
}
